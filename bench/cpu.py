"""CPU time per process over a measured window, from /proc (Linux).

Every process whose command name is one of the stack's servers is summed into that server's
line (PostgreSQL's backends, the postmaster, ...); the time of children that exited and were
reaped meanwhile is counted through their parent's `cutime`/`cstime`, so a PostgreSQL backend
that comes and goes inside the window is not lost. Other processes of the same name on the
machine would be counted too: measure on a machine where only the stack runs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVERS = {
    "postgres": "PostgreSQL + DocumentDB",
    "ferretdb": "FerretDB",
    "java": "Kafka",
    "mailpit": "Mailpit",
}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of one process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and brackets
    return sum(int(f) for f in fields[11:15]) / TICKS


def _command_name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def servers_cpu() -> dict[str, float]:
    totals = dict.fromkeys(SERVERS.values(), 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        name = _command_name(pid)
        # the stack's binaries carry their version in the name: ferretdb-v2.5.0
        label = next((SERVERS[s] for s in SERVERS if name == s or name.startswith(s + "-")), None)
        if label is not None:
            totals[label] += cpu_seconds(int(pid))
    return totals


@dataclass
class CpuWindow:
    """CPU seconds of named processes (and the stack's servers) from `start` to `stop`."""

    pids: dict[str, int]
    before: dict[str, float] | None = None
    spent: dict[str, float] | None = None

    def _now(self) -> dict[str, float]:
        own = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return {**own, **servers_cpu(), "load generator": cpu_seconds(os.getpid())}

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> None:
        assert self.before is not None, "start() first"
        after = self._now()
        self.spent = {name: after[name] - self.before.get(name, 0.0) for name in after}

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
        lines += [f"  {name:26} {1000 * seconds / per:7.2f}" for name, seconds in rows]
        lines.append(f"  {'all but the generator':26} {1000 * services / per:7.2f}")
        return "\n".join(lines)
