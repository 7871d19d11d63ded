"""Entry point of the ``hydra`` command."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from hydra import __version__
from hydra.cli import audit_cmd, costs_cmd, issue_cmd, loops_cmd, panic_cmd, run_cmd
from hydra.cli._common import EXIT_USAGE, CliError

COMMANDS = (run_cmd, loops_cmd, audit_cmd, costs_cmd, panic_cmd, issue_cmd)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line on stderr and exit code 2, like every other bad input.
        self.exit(EXIT_USAGE, f"hydra: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hydra", description="Hydra: the caretaker daemon of a coding factory.")
    parser.add_argument("--version", action="version", version=f"hydra {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        # A reader piped into `head` should end quietly, like other Unix tools.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        code: int = args.handler(args)
    except CliError as exc:
        print(f"hydra: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
