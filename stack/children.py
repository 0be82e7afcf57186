"""Child processes that cannot outlive the tool that started them.

`die_with_parent` is a `preexec_fn` (or a call on oneself): Linux sends the process SIGTERM when
its parent dies, however the parent dies (SIGKILL included). `exit_on_signals` makes SIGINT,
SIGTERM and SIGHUP run the tool's cleanup once and end the process at once. It does not raise
KeyboardInterrupt from the handler: such an exception can surface inside a `__del__` (a garbage
collected socket, say), where Python prints and ignores it -- the demo once kept running that way
after a SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def exit_on_signals(cleanup: Callable[[], None] = lambda: None) -> None:
    """On SIGINT/SIGTERM/SIGHUP: `cleanup()` once (later signals are ignored), then exit with
    128 + the signal number. Children started with `die_with_parent` get SIGTERM as we go."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        try:
            print(f"\n{signal.Signals(signum).name}: stopping what this started ...", flush=True)
            cleanup()
        finally:
            os._exit(128 + signum)

    for each in STOP_SIGNALS:
        signal.signal(each, stop)
