"""Dead letters as values, and which of them a command selects (pure: no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.topics import DLQ_SUFFIX

REPLAY_HEADER = "dlq-replayed-from"


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    timestamp: datetime  # when it reached the DLQ (the record's broker timestamp)
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        """`<dlq topic>/<partition>/<offset>`: how `show` and `replay --ref` name it."""
        return f"{self.dlq_topic}/{self.partition}/{self.offset}"

    @property
    def error(self) -> str:
        return self.headers.get("dlq-error", "")

    @property
    def source_topic(self) -> str:
        """The topic it was read from (the DLQ's base topic for records without the header)."""
        return self.headers.get("dlq-source-topic") or self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def origin(self) -> str:
        partition = self.headers.get("dlq-source-partition", "?")
        offset = self.headers.get("dlq-source-offset", "?")
        return f"{self.source_topic}/{partition}/{offset}"

    def summary(self) -> str:
        when = self.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        key = self.key.decode(errors="replace") if self.key else "-"
        service = self.headers.get("dlq-service", "?")
        error = " ".join(self.error.split())[:120]
        return f"{self.ref}  {when}  from {self.origin} ({service})  key={key}  {error}"

    def details(self) -> str:
        lines = [f"dead letter {self.ref}", f"  timestamp: {self.timestamp.isoformat()}"]
        key = self.key.decode(errors="replace") if self.key is not None else None
        lines.append(f"  key: {key!r}")
        lines += [f"  {name}: {value}" for name, value in sorted(self.headers.items())]
        lines.append(f"  value ({len(self.value)} bytes):")
        try:
            body = json.dumps(json.loads(self.value), indent=2, ensure_ascii=False)
        except (ValueError, UnicodeDecodeError):
            body = repr(self.value[:2000])
        lines += [f"    {line}" for line in body.splitlines()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; every condition given must hold."""

    since: datetime | None = None
    until: datetime | None = None
    error: str = ""  # case-insensitive text in the error
    refs: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        if self.refs and letter.ref not in self.refs:
            return False
        if self.since is not None and letter.timestamp < self.since:
            return False
        if self.until is not None and letter.timestamp > self.until:
            return False
        return self.error.lower() in letter.error.lower()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dlq_topics_for(names: list[str], every_dlq: list[str]) -> list[str]:
    """`invitations.commands` or `invitations.commands.dlq` both mean the latter; none: all."""
    if not names:
        return every_dlq
    chosen = [name if name.endswith(DLQ_SUFFIX) else name + DLQ_SUFFIX for name in names]
    unknown = sorted(set(chosen) - set(every_dlq))
    if unknown:
        raise ValueError(f"no such dead-letter topic: {', '.join(unknown)}")
    return chosen
