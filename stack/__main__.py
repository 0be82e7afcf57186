"""The local stack: Apache Kafka, PostgreSQL + DocumentDB, FerretDB and Mailpit as processes."""

from __future__ import annotations

import argparse
import signal
import sys

from stack import config, credentials, provision, servers
from stack.topics import create_all

ACTION_HELP = {
    "provision": "install and build every server into the cache (no server is started)",
    "up": "provision, start the servers, wait until each answers, create the topics",
    "status": "say which servers run and what each answers (exit 1 if one does not)",
    "down": "stop the servers cleanly (dependents first)",
    "kill": "SIGKILL the servers (for fault tests)",
    "restart": "down, then up",
    "env": "print the export lines that point services and tests at this stack",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="actions:\n"
        + "\n".join(f"  {name:10} {text}" for name, text in ACTION_HELP.items())
        + f"\n\nservers: {', '.join(servers.SERVERS)} (default: all)",
    )
    parser.add_argument("action", choices=list(ACTION_HELP), metavar="action")
    parser.add_argument("names", nargs="*", metavar="server", help="limit the action to these")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait per server")
    parser.add_argument(
        "--principal",
        choices=credentials.KAFKA_PRINCIPALS,
        default=credentials.KAFKA_ADMIN,
        help="env: print the broker credentials of this principal (default: the admin)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in servers.SERVERS]
    if unknown:
        choices = ", ".join(servers.SERVERS)
        parser.error(f"unknown server {', '.join(unknown)}; choose from {choices}")
    cfg = config.load()
    names = [name for name in servers.SERVERS if not args.names or name in args.names]
    try:
        if args.action == "env":
            return _env(cfg, args.principal)
        return ACTIONS[args.action](cfg, names, args.timeout)
    except (
        servers.StackError,
        provision.ProvisionError,
        credentials.MissingCredentials,
    ) as exc:
        print(f"stack {args.action} failed: {exc}", file=sys.stderr)
        return 1


def _provision(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    provision.all_servers(cfg, names)
    return 0


def _up(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    provision.all_servers(cfg, _with_requirements(names))
    for name in names:
        servers.start(cfg, name)
    for name in names:
        print(f"ready  {name:9} {servers.wait_ready(cfg, name, timeout)}", flush=True)
    if "kafka" in names:
        created = create_all(servers.kafka_access(cfg))
        print(f"topics created: {', '.join(created) if created else 'none missing'}")
    print(f"logs: {cfg.data_dir / 'logs'}; clients: eval $(.venv/bin/python -m stack env)")
    return 0


def _with_requirements(names: list[str]) -> list[str]:
    needed = set(names)
    for name in names:
        required = servers.SERVERS[name].requires
        while required is not None:
            needed.add(required)
            required = servers.SERVERS[required].requires
    return [name for name in servers.SERVERS if name in needed]


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
    for name in reversed(names):
        print(f"{name:9} {'stopped' if servers.stop(cfg, name) else 'was not running'}")
    return 0


def _kill(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    for name in reversed(names):
        servers.stop(cfg, name, sig=signal.SIGKILL)
        print(f"{name:9} killed")
    return 0


def _restart(cfg: config.StackConfig, names: list[str], timeout: float) -> int:
    _down(cfg, names, timeout)
    return _up(cfg, names, timeout)


def _env(cfg: config.StackConfig, principal: str) -> int:
    variables = {**cfg.env(), **servers.kafka_access(cfg, principal).env()}
    if principal not in credentials.SERVICE_PRINCIPALS and principal != credentials.KAFKA_ADMIN:
        del variables["MONGODB_URI"]  # the gateway and downstream reach no database
    for key, value in variables.items():
        print(f"export {key}='{value}'")
    print(f"export STACK_KAFKA_VERSION='Apache Kafka {config.KAFKA_VERSION} (KRaft, local stack)'")
    print(f"export STACK_STORAGE_VERSION='{servers.storage_label(cfg)}'")
    return 0


ACTIONS = {
    "provision": _provision,
    "up": _up,
    "status": _status,
    "down": _down,
    "kill": _kill,
    "restart": _restart,
}

if __name__ == "__main__":
    sys.exit(main())
