"""Authors' tools: `python -m dropout_lib.grading digest ID ANSWER... [--step S]` prints the
digests to store for a quiz; `python -m dropout_lib.grading list` lists every exercise."""

from __future__ import annotations

import argparse

from .quizzes import print_digests
from .registry import load_all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dropout_lib.grading")
    commands = parser.add_subparsers(dest="command", required=True)
    digest = commands.add_parser("digest", help="print the digests to store for a quiz")
    digest.add_argument("exercise_id")
    digest.add_argument("answers", nargs="+", help="letters, or numbers with --step")
    digest.add_argument("--step", type=float, help="the step of a numeric quiz")
    commands.add_parser("list", help="list every exercise with its points")
    args = parser.parse_args(argv)
    if args.command == "digest":
        print_digests(args.exercise_id, args.answers, args.step)
    else:
        for item in load_all():
            print(f"{item.id:>5}  {item.kind:<8}  {item.points:g} pt  {item.title}")


if __name__ == "__main__":
    main()
