"""Files generated from the code and committed: written by `write`, compared by `check`."""

from __future__ import annotations

from pathlib import Path


def sync(files: dict[Path, str], action: str, how: str = "make schemas") -> int:
    """`write`: write each file; `check`: report (and return 1 for) each that differs."""
    stale = []
    for path, text in files.items():
        if action == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(path)
    for path in stale:
        print(f"stale: {path} (run: {how})")
    return 1 if stale else 0
