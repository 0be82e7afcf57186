"""python -m services.invitations"""

from services.invitations.app import build
from services.invitations.settings import load
from services.runtime.service import main


def run() -> None:
    """The `pro-team-invitations` command."""
    settings = load()
    main("invitations", lambda: build(settings).runtime, settings.log_level)


if __name__ == "__main__":
    run()
