"""python -m services.notifications"""

from services.notifications.app import build
from services.notifications.settings import load
from services.runtime.service import main

if __name__ == "__main__":
    settings = load()
    main("notifications", lambda: build(settings).runtime, settings.log_level)
