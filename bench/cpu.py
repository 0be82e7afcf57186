"""CPU time per process over a measured window, from /proc (Linux).

Every process whose command name is one of the stack's servers is summed into that server's
line (PostgreSQL's backends, the postmaster, ...); the time of children that exited and were
reaped meanwhile is counted through their parent's `cutime`/`cstime`, so a PostgreSQL backend
that comes and goes inside the window is not lost. Other processes of the same name on the
machine would be counted too: measure on a machine where only the stack runs them.

Kafka's JVM compiles its hot code while it runs (the JIT's compiler threads): a broker started
minutes ago spends a large share of its CPU on that, a broker running for hours almost none.
That share is printed on a line of its own, inside Kafka's.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

SERVERS = {
    "postgres": "PostgreSQL + DocumentDB",
    "ferretdb": "FerretDB",
    "java": "Kafka",
    "mailpit": "Mailpit",
}
KAFKA = SERVERS["java"]
JIT_THREADS = ("C1 CompilerThre", "C2 CompilerThre")  # HotSpot's names, cut to 15 characters
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of one process (0 if it is gone)."""
    return _seconds(f"/proc/{pid}", slice(11, 15))


def _seconds(path: str, fields: slice) -> float:
    """The sum of the CPU `fields` (in ticks) of a /proc/<pid> or /proc/<pid>/task/<tid>."""
    try:
        stat = Path(f"{path}/stat").read_text()
    except OSError:
        return 0.0
    values = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and brackets
    return sum(int(f) for f in values[fields]) / TICKS


def _command_name(path: str) -> str:
    try:
        return Path(f"{path}/comm").read_text().strip()
    except OSError:
        return ""


def jit_threads(pids: list[int]) -> dict[str, float]:
    """CPU seconds of each JIT compiler thread of the JVMs `pids`, by /proc path. HotSpot
    starts and stops compiler threads as its queue grows and shrinks, so a window counts each
    thread from when it was first seen (one that exited meanwhile takes its share with it)."""
    threads = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                task = f"/proc/{pid}/task/{tid}"
                if _command_name(task) in JIT_THREADS:
                    # a thread's utime + stime (its children's fields are the whole process's)
                    threads[task] = _seconds(task, slice(11, 13))
    return threads


def servers_cpu() -> tuple[dict[str, float], dict[str, float]]:
    """Each server's CPU seconds, and those of Kafka's JIT compiler threads (`jit_threads`)."""
    totals = dict.fromkeys(SERVERS.values(), 0.0)
    kafka: list[int] = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        name = _command_name(f"/proc/{pid}")
        # the stack's binaries carry their version in the name: ferretdb-v2.5.0
        label = next((SERVERS[s] for s in SERVERS if name == s or name.startswith(s + "-")), None)
        if label is not None:
            totals[label] += cpu_seconds(int(pid))
        if label == KAFKA:
            kafka.append(int(pid))
    return totals, jit_threads(kafka)


@dataclass
class CpuWindow:
    """CPU seconds of named processes (and the stack's servers) from `start` to `stop`."""

    pids: dict[str, int]
    before: tuple[dict[str, float], dict[str, float]] | None = None
    spent: dict[str, float] | None = None
    jit_spent: float = 0.0  # inside Kafka's line of `spent`

    def _now(self) -> tuple[dict[str, float], dict[str, float]]:
        own = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        servers, jit = servers_cpu()
        return {**own, **servers, "load generator": cpu_seconds(os.getpid())}, jit

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> None:
        assert self.before is not None, "start() first"
        (before, jit_before), (after, jit_after) = self.before, self._now()
        self.spent = {name: after[name] - before.get(name, 0.0) for name in after}
        self.jit_spent = sum(t - jit_before.get(task, 0.0) for task, t in jit_after.items())

    def all_but_the_generator(self) -> float:
        """CPU seconds of every process measured except the one running the measurement."""
        assert self.spent is not None, "stop() first"
        return sum(s for name, s in self.spent.items() if name != "load generator")

    def servers(self, *leaving_out: str) -> float:
        """CPU seconds of the stack's servers (FerretDB, PostgreSQL, Kafka, Mailpit), but
        those named in `leaving_out`."""
        assert self.spent is not None, "stop() first"
        names = set(SERVERS.values()) - set(leaving_out)
        return sum(s for name, s in self.spent.items() if name in names)

    def report(self, per: int, unit: str) -> str:
        assert self.spent is not None, "stop() first"
        rows = sorted(self.spent.items(), key=lambda item: -item[1])
        services = self.all_but_the_generator()
        lines = [f"CPU per {unit} (ms; {per} {unit}s):"]
        for name, seconds in rows:
            lines.append(f"  {name:26} {1000 * seconds / per:7.2f}")
            if name == KAFKA:
                jit = 1000 * self.jit_spent / per
                lines.append(f"    {'of which its JIT compiler':24} {jit:7.2f}")
        lines.append(f"  {'all but the generator':26} {1000 * services / per:7.2f}")
        return "\n".join(lines)
