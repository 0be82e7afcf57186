"""Local stack CLI:  python -m stack {provision|up|status|down|kill|restart|env} [server ...]"""

from __future__ import annotations

import argparse
import signal
import sys

from stack import config, provision, servers
from stack.topics import create_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "action", choices=["provision", "up", "status", "down", "kill", "restart", "env"]
    )
    parser.add_argument("names", nargs="*", choices=[[], *servers.SERVERS], default=[])
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait per server")
    args = parser.parse_args(argv)
    cfg = config.load()
    names = args.names or list(servers.SERVERS)
    try:
        return ACTIONS[args.action](cfg, names, args.timeout)
    except (servers.StackError, provision.ProvisionError) as exc:
        print(f"stack {args.action} failed: {exc}", file=sys.stderr)
        return 1


def _provision(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    provision.all_servers(cfg)
    return 0


def _up(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    provision.all_servers(cfg)
    for name in names:
        servers.start(cfg, name)
    for name in names:
        print(f"ready  {name:9} {servers.wait_ready(cfg, name, timeout)}", flush=True)
    if "kafka" in names:
        created = create_all(cfg.kafka_bootstrap)
        print(f"topics created: {', '.join(created) if created else 'none missing'}")
    print(f"logs: {cfg.data_dir / 'logs'}; clients: eval $(.venv/bin/python -m stack env)")
    return 0


def _status(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    healthy = True
    for name in names:
        pid = servers.running_pid(cfg, name)
        try:
            state = f"pid {pid}, " + servers.SERVERS[name].probe(cfg) if pid else "stopped"
            healthy &= pid is not None
        except Exception as exc:  # noqa: BLE001
            state, healthy = f"pid {pid}, not answering: {exc!r}", False
        print(f"{name:9} {state}")
    return 0 if healthy else 1


def _down(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    for name in names:
        print(f"{name:9} {'stopped' if servers.stop(cfg, name) else 'was not running'}")
    return 0


def _kill(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    for name in names:
        servers.stop(cfg, name, sig=signal.SIGKILL)
        print(f"{name:9} killed")
    return 0


def _restart(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    _down(cfg, names, timeout)
    return _up(cfg, names, timeout)


def _env(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    for key, value in cfg.env().items():
        print(f"export {key}={value}")
    print(f"export STACK_KAFKA_VERSION='Apache Kafka {config.KAFKA_VERSION} (KRaft, local stack)'")
    return 0


ACTIONS = {
    "provision": _provision,
    "up": _up,
    "status": _status,
    "down": _down,
    "kill": _kill,
    "restart": _restart,
    "env": _env,
}

if __name__ == "__main__":
    sys.exit(main())
