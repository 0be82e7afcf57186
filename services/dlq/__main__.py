"""The dead-letter tool. Runs as the broker's admin (`eval $(python -m stack env)`), since no
service principal may read dead letters.

  python -m services.dlq list    [--topic T ...] [--since TIME] [--until TIME] [--error TEXT]
  python -m services.dlq show    REF ...
  python -m services.dlq replay  (REF ... | --all) [--topic T ...] [--since/--until/--error]
  python -m services.dlq purge   [--topic T ...] [--until TIME] [--yes]

A REF names one dead letter as `list` prints it: <dlq topic>/<partition>/<offset>.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from contracts.topics import all_topics, dlq_topic
from services.dlq import kafka_io
from services.dlq.letters import DeadLetter, Selection, dlq_topics_for, parse_time
from services.runtime.kafka_access import KafkaAccess

EVERY_DLQ = sorted(t for t in all_topics() if t.endswith(dlq_topic("")))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.dlq",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="action")

    def filters(sub: argparse.ArgumentParser, with_error: bool = True) -> None:
        sub.add_argument(
            "--topic", action="append", default=[], help="a topic or its .dlq (repeatable)"
        )
        sub.add_argument("--since", type=parse_time, help="dead-lettered at or after (ISO 8601)")
        sub.add_argument("--until", type=parse_time, help="dead-lettered at or before (ISO 8601)")
        if with_error:
            sub.add_argument("--error", default="", help="text the error contains (any case)")

    filters(actions.add_parser("list", help="one line per dead letter: where, when, why"))
    show = actions.add_parser("show", help="one dead letter in full: headers and value")
    show.add_argument("refs", nargs="+", metavar="REF")
    replay = actions.add_parser(
        "replay",
        help="publish dead letters again to the topic they came from, with their key and a "
        "dlq-replayed-from header; the services ignore what they already applied",
    )
    replay.add_argument("refs", nargs="*", metavar="REF")
    replay.add_argument("--all", action="store_true", help="every dead letter the filters select")
    filters(replay)
    purge = actions.add_parser(
        "purge",
        help="delete dead letters for good (all, or those older than --until); asks first",
    )
    purge.add_argument("--topic", action="append", default=[], help="a topic or its .dlq")
    purge.add_argument("--until", type=parse_time, help="only those dead-lettered until then")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


async def _selected(access: KafkaAccess, args: argparse.Namespace) -> list[DeadLetter]:
    refs = frozenset(getattr(args, "refs", []) or [])
    named = getattr(args, "topic", [])
    topics = dlq_topics_for(named or sorted({ref.rsplit("/", 2)[0] for ref in refs}), EVERY_DLQ)
    selection = Selection(
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        error=getattr(args, "error", "") or "",
        refs=refs,
    )
    return [letter for letter in await kafka_io.read(access, topics) if selection.matches(letter)]


async def run(args: argparse.Namespace, access: KafkaAccess) -> int:
    if args.action == "list":
        letters = await _selected(access, args)
        for letter in letters:
            print(letter.summary())
        print(f"{len(letters)} dead letter(s)")
        return 0
    if args.action == "show":
        letters = await _selected(access, args)
        for letter in letters:
            print(letter.details())
        missing = sorted(set(args.refs) - {letter.ref for letter in letters})
        for ref in missing:
            print(f"no dead letter {ref}", file=sys.stderr)
        return 1 if missing else 0
    if args.action == "replay":
        if not args.refs and not args.all:
            print("name the dead letters (REF ...) or select them with --all", file=sys.stderr)
            return 2
        letters = await _selected(access, args)
        await kafka_io.replay(access, letters)
        for letter in letters:
            print(f"replayed {letter.ref} -> {letter.source_topic}")
        print(f"{len(letters)} dead letter(s) replayed")
        return 0
    topics = dlq_topics_for(args.topic, EVERY_DLQ)
    count = await kafka_io.count_before(access, topics, args.until)
    if count == 0:
        print("nothing to purge")
        return 0
    scope = f"dead-lettered until {args.until.isoformat()}" if args.until else "all"
    if not args.yes:
        question = f"purge {count} dead letter(s) ({scope}) from {', '.join(topics)}? [y/N] "
        answer = await asyncio.to_thread(input, question)
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing purged")
            return 1
    print(f"{await kafka_io.purge(access, topics, args.until)} dead letter(s) purged")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(run(args, KafkaAccess.from_env()))
    except ValueError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
