"""Which offset of each partition may be committed while its records finish out of order.

Records of one partition are received in offset order and may finish in any order (different
accounts run at once). The offset to commit for a partition is the lowest one not finished yet
(or one past the last received when all are finished): committing it never skips a record that
is still running or waiting, so a crash re-reads from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

Partition = tuple[str, int]  # (topic, partition)


@dataclass
class _Offsets:
    received: deque[int] = field(default_factory=deque)  # in arrival (= offset) order
    unfinished: set[int] = field(default_factory=set)
    last: int | None = None  # the highest offset received
    safe: int | None = None  # every record below it is finished
    committed: int | None = None

    def advance(self) -> None:
        while self.received and self.received[0] not in self.unfinished:
            self.safe = self.received.popleft() + 1


class OffsetBook:
    """What was received and finished, per partition; no I/O."""

    def __init__(self) -> None:
        self._partitions: dict[Partition, _Offsets] = {}

    def receive(self, partition: Partition, offset: int) -> bool:
        """Note a record about to be handled; False when it is not past what this partition
        already received (a re-read of one already taken: leave it out)."""
        offsets = self._partitions.setdefault(partition, _Offsets())
        if offsets.last is not None and offset <= offsets.last:
            return False
        offsets.last = offset
        offsets.received.append(offset)
        offsets.unfinished.add(offset)
        return True

    def finish(self, partition: Partition, offset: int) -> None:
        """The record was handled (a partition forgotten meanwhile: nothing to note)."""
        offsets = self._partitions.get(partition)
        if offsets is None:
            return
        offsets.unfinished.discard(offset)
        offsets.advance()

    def to_commit(self) -> dict[Partition, int]:
        """The partitions whose safe offset moved past their last commit, and that offset."""
        return {
            partition: offsets.safe
            for partition, offsets in self._partitions.items()
            if offsets.safe is not None and offsets.safe != offsets.committed
        }

    def committed(self, done: dict[Partition, int]) -> None:
        for partition, offset in done.items():
            offsets = self._partitions.get(partition)
            if offsets is not None:
                offsets.committed = offset

    def forget(self, partitions: Iterable[Partition]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)

    def partitions(self) -> set[Partition]:
        return set(self._partitions)

    def unfinished(self, partition: Partition) -> int:
        offsets = self._partitions.get(partition)
        return 0 if offsets is None else len(offsets.unfinished)
