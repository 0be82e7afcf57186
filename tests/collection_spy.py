"""Which reads collections were asked for: to test that a handler does not read what it need
not. Replaces the named read methods of the collection objects with ones that note their
argument (a key or a filter) and then ask the original."""

from __future__ import annotations

from typing import Any


def recorded_reads(*collections: object, methods: tuple[str, ...] = ("get",)) -> list[Any]:
    """The arguments of every later call of `methods` on any of `collections`, in order."""
    reads: list[Any] = []
    for collection in collections:
        for name in methods:
            original = getattr(collection, name)

            async def recorded(arg: Any, original: Any = original) -> Any:
                reads.append(arg)
                return await original(arg)

            setattr(collection, name, recorded)
    return reads
