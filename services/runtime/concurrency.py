"""How much one subscriber holds and runs at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concurrency:
    """How much one subscriber holds and runs at once (settings `CONSUMER_MAX_IN_FLIGHT` and
    `CONSUMER_MAX_ACCOUNTS`); `fetch_wait_ms`: how long an idle fetch waits for records."""

    max_in_flight: int = 500
    max_accounts: int = 64
    fetch_wait_ms: int = 20
