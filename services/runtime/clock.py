"""Time as a dependency, so tests can move it without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from contracts.common import utc_now


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class MovableClock:
    """System time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
