"""`bench/pipeline.py` runs a small burst through the four services against the real servers and
prints every invitation's outcome, the baselines, the ratios and what the servers alone allow
(a benchmark nobody runs rots)."""

from __future__ import annotations

import re

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark


def figure(out: str, label: str) -> float:
    """The first number after `label` on its line."""
    match = re.search(re.escape(label) + r"[^\d\n]*([\d.]+)", out)
    assert match is not None, f"{label!r} not printed:\n{out}"
    return float(match.group(1))


def test_a_burst_reaches_every_mailbox_and_prints_its_ratios_and_the_servers_bound(
    servers: Servers,
) -> None:
    out = run_benchmark(servers, "pipeline", "-n", "100", "--warmup", "30", timeout=300)

    assert "warm-up: 30 of 30 emails" in out, out
    emailed = re.search(r"\(c\) email accepted by SMTP(?:\s+[\d.]+){4}\s+(\d+)", out)
    assert emailed is not None and int(emailed.group(1)) == 100, out
    throughput = figure(out, "pipeline throughput (command -> email):")
    serial = min(
        figure(out, "raw aiokafka produce+consume, serial:"),
        figure(out, "raw AsyncMongoClient inserts, serial:"),
    )
    # the figures are printed rounded: the ratio is checked to their precision
    assert abs(figure(out, "pipeline / slower serial baseline") - throughput / serial) < 0.002

    cores_line = re.search(r"on (\d+) cores:", out)
    assert cores_line is not None, out
    cores = int(cores_line.group(1))
    bounds = re.findall(
        r"([\d.]+) ms/invitation -> at most\s+([\d.]+) invitations/s = ([\d.]+) of", out
    )
    assert len(bounds) == 2, out
    (all_ms, all_bound, all_ratio), (relay_ms, relay_bound, _) = (
        tuple(map(float, row)) for row in bounds
    )
    assert 0 < relay_ms < all_ms, out  # leaving Mailpit out leaves less
    assert abs(all_bound - cores * 1000 / all_ms) <= 0.01 * all_bound + 0.1, out
    assert abs(all_ratio - all_bound / serial) <= 0.002, out
    assert relay_bound > all_bound, out
    # Kafka's JIT compiler is reported inside Kafka's CPU, not added to it
    kafka, jit = figure(out, "  Kafka "), figure(out, "of which its JIT compiler")
    assert 0 <= jit <= kafka, out
