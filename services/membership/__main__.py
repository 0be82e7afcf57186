"""python -m services.membership"""

from services.membership.app import build
from services.membership.settings import load
from services.runtime.service import main


def run() -> None:
    """The `pro-team-membership` command."""
    settings = load()
    main("membership", lambda: build(settings).runtime, settings.log_level)


if __name__ == "__main__":
    run()
