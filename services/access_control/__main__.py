"""python -m services.access_control"""

from services.access_control.app import build
from services.access_control.settings import load
from services.runtime.service import main

if __name__ == "__main__":
    settings = load()
    main("access_control", lambda: build(settings).runtime, settings.log_level)
