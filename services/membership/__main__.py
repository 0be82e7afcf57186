"""python -m services.membership"""

from services.membership.app import build
from services.membership.settings import load
from services.runtime.service import main

if __name__ == "__main__":
    settings = load()
    main("membership", lambda: build(settings).runtime, settings.log_level)
