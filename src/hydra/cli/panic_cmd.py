"""``hydra panic``: the andon cord. Stops every loop at once, audited with who and why.

Any process that can read the API token can pull it (an operator, a coding agent that sees
something going wrong). When no daemon answers, the global switch is written off directly
(audited in the ``control`` stream, persisted) so the next start keeps every loop stopped.
"""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from hydra.cli._client import client_for
from hydra.cli._common import EXIT_NO_DAEMON, EXIT_OK, CliError, add_location_args, data_dir_from


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "panic", help="stop every loop now (the andon cord)"
    )
    add_location_args(parser)
    parser.add_argument("--reason", required=True, help="what is going wrong")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    reason = f"{args.reason} (pulled by {_who()})"
    try:
        client = client_for(args)
        client.request("PUT", "/api/switches/all", {"enabled": False, "reason": reason})
    except CliError as exc:
        if exc.code != EXIT_NO_DAEMON:
            raise
        _offline(args, reason)
        print("hydra: no daemon answered; the global switch is persisted OFF for the next start")
        return EXIT_OK
    print("All loops stopped. Turn them back on with the API's global switch or the dashboard.")
    return EXIT_OK


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}, pid {os.getppid()}"


def _offline(args: argparse.Namespace, reason: str) -> None:
    import anyio

    from hydra.offline import DataDirBusy, pull_global_switch

    try:
        anyio.run(pull_global_switch, data_dir_from(args), reason)
    except DataDirBusy as exc:
        raise CliError(str(exc)) from None
