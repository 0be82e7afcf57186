"""Documents this process wrote, kept so that the next change of the same aggregate can skip
reading it first.

Opt-in per repository, for an aggregate whose handler commits it whenever it decides anything
from it. A change decided from a kept document stands only when its compare-and-set write
lands: a kept document that is no longer the stored one (someone else wrote since) makes that
write fail, the document is forgotten and the change is decided again from the database. A
decision from a kept document that writes nothing (a refusal, or nothing to do) is also decided
again from the database (`Dispatch`), so a kept document never decides an outcome alone.

Forgotten: when a write of it fails or may have failed, when it is removed, and on every change
of partitions (an instance that gains an account reads its documents). Bounded by weight, the
least recently used first: each document counts one, plus one per command outcome it remembers
(up to 200, about 600 bytes each), so `MAX_WEIGHT` keeps about 12 MB at most.
"""

from __future__ import annotations

from collections import OrderedDict

from services.runtime.collection import Document

MAX_WEIGHT = 20_000


def _weight(doc: Document) -> int:
    return 1 + len(doc.get("outcomes", ()))


class KeptDocuments:
    def __init__(self, max_weight: int = MAX_WEIGHT) -> None:
        self.max_weight = max_weight
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._weight = 0

    def get(self, key: str) -> Document | None:
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
        return doc

    def keep(self, key: str, doc: Document) -> None:
        """`doc` as this process has just written it (the caller no longer changes it)."""
        self.forget(key)
        self._docs[key] = doc
        self._weight += _weight(doc)
        while self._weight > self.max_weight and self._docs:
            _, oldest = self._docs.popitem(last=False)
            self._weight -= _weight(oldest)

    def forget(self, key: str) -> None:
        doc = self._docs.pop(key, None)
        if doc is not None:
            self._weight -= _weight(doc)

    def forget_all(self) -> None:
        self._docs.clear()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._docs)
