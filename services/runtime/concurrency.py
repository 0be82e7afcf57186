"""How much one subscriber holds and runs at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concurrency:
    """How much one subscriber holds and runs at once (settings `CONSUMER_MAX_IN_FLIGHT`:
    records waiting or running, a fetch taking up to half of it; `CONSUMER_MAX_ACCOUNTS`:
    accounts running at once; `CONSUMER_FETCH_HOLD_MS`: how long the next fetch waits for
    the records in hand to finish; `CONSUMER_COMMIT_EVERY_MS`: the least time between two
    offset commits); `fetch_wait_ms`: one round of an idle fetch's wait for records (the
    wait goes on round after round; a record ends it at once)."""

    max_in_flight: int = 500
    max_accounts: int = 64
    fetch_hold_ms: int = 250
    commit_every_ms: int = 1000
    fetch_wait_ms: int = 1000
