"""python -m services.notifications"""

from services.notifications.app import build
from services.notifications.settings import load
from services.runtime.service import main


def run() -> None:
    """The `pro-team-notifications` command."""
    settings = load()
    main("notifications", lambda: build(settings).runtime, settings.log_level)


if __name__ == "__main__":
    run()
