"""python -m services.access_control"""

from services.access_control.app import build
from services.access_control.settings import load
from services.runtime.service import main


def run() -> None:
    """The `pro-team-access-control` command."""
    settings = load()
    main("access_control", lambda: build(settings).runtime, settings.log_level)


if __name__ == "__main__":
    run()
