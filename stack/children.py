"""Child processes that cannot outlive the tool that started them.

`die_with_parent` is a `preexec_fn`: Linux sends the child SIGTERM when its parent dies, however
the parent dies (SIGKILL included). `terminate_on_signals` turns SIGTERM (and SIGHUP) into the
same KeyboardInterrupt that Ctrl-C raises, so a tool's `finally:` blocks stop what it started.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def terminate_on_signals() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
