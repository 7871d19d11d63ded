"""``hydra loops``: list, enable, disable, set and trigger loops on the running daemon."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hydra.cli._client import client_for
from hydra.cli._common import EXIT_OK, add_location_args, inherited_default, print_json
from hydra.cli._width import fit_line, output_width, print_table


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "loops", help="list and switch loops on the running daemon"
    )
    # The shared options go on the command and on each action (inherited): both orders work.
    add_location_args(parser)
    _json(parser, inherited=False)
    actions = parser.add_subparsers(dest="loops_action", metavar="ACTION")
    listing = actions.add_parser("list", help="list loops (the default)")
    _shared(listing)
    for verb in ("enable", "disable"):
        p = actions.add_parser(verb, help=f"{verb} a loop")
        _shared(p)
        p.add_argument("name")
        p.add_argument("--reason", required=True, help="why (kept in the control audit stream)")
        if verb == "disable":
            p.add_argument("--drain", action="store_true", help="let the running tick finish")
    setter = actions.add_parser("set", help="change a loop's interval or mode")
    _shared(setter)
    setter.add_argument("name")
    setter.add_argument("--interval", type=float, metavar="SECONDS")
    setter.add_argument("--mode", choices=("live", "shadow"))
    setter.add_argument("--reason", required=True)
    trig = actions.add_parser("trigger", help="run a loop's tick now")
    _shared(trig)
    trig.add_argument("name")
    trig.add_argument("--reason", help="why (kept in the control audit stream)")
    parser.set_defaults(handler=handle, loops_action=None)


def _shared(action: argparse.ArgumentParser) -> None:
    add_location_args(action, inherited=True)
    _json(action, inherited=True)


def _json(parser: argparse.ArgumentParser, *, inherited: bool) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=inherited_default(inherited, False),
        help="print the daemon's answer as JSON",
    )


def handle(args: argparse.Namespace) -> int:
    client = client_for(args)
    action = args.loops_action or "list"
    if action == "list":
        data = client.request("GET", "/api/loops")
        if args.json:
            print_json(data)
        else:
            _print_loops(data)
        return EXIT_OK
    if action == "trigger":
        reason = {"reason": args.reason} if args.reason else None
        data = client.request("POST", f"/api/loops/{args.name}/trigger", reason)
        if args.json:
            print_json(data)
            return EXIT_OK
        merged = " (merged into the running tick)" if data.get("merged_into_running_tick") else ""
        print(f"{args.name}: triggered{merged}")
        return EXIT_OK
    body: dict[str, Any] = {"reason": args.reason}
    if action in ("enable", "disable"):
        body["enabled"] = action == "enable"
        body["drain"] = bool(getattr(args, "drain", False))
    else:
        if args.interval is not None:
            body["interval_s"] = args.interval
        if args.mode is not None:
            body["mode"] = args.mode
    data = client.request("PUT", f"/api/loops/{args.name}", body)
    if args.json:
        print_json(data)
        return EXIT_OK
    changed = "" if data.get("changed") else " (no change)"
    print(
        f"{args.name}: {'enabled' if data.get('enabled') else 'disabled'}, "
        f"every {data.get('interval_s')} s, {data.get('mode')}{changed}"
    )
    return EXIT_OK


def _print_loops(data: dict[str, Any]) -> None:
    width = output_width()
    glob = data.get("global") or {}
    if not glob.get("enabled", True):
        key = f"GLOBAL SWITCH OFF by {glob.get('by')}:"
        print(fit_line(f"{key} {glob.get('reason')}", width, keep=len(key)) + "\n")
    now = datetime.now(UTC)
    rows = []
    for loop in data.get("loops", []):
        last = loop.get("last") or {}
        due = loop.get("next_due_at")
        rows.append(
            [
                loop["name"],
                loop["state"],
                "on" if loop.get("enabled") else "off",
                loop.get("mode"),
                loop.get("interval_s"),
                last.get("status"),
                due if width is None else _due_in(due, now),  # fitted: "in 4m12s", not ISO
                loop.get("blocked_reason") or last.get("summary") or last.get("error"),
            ]
        )
    print_table(
        ["loop", "state", "switch", "mode", "every_s", "last", "next", "note"],
        rows,
        free="note",
        soft=("mode", "every_s", "last", "next"),
    )


def _due_in(value: Any, now: datetime) -> Any:
    """An ISO due time as the time left (``in 4m12s``, ``now`` once due); else as it is."""
    if not isinstance(value, str):
        return value
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return value
    seconds = int((due if due.tzinfo else due.replace(tzinfo=UTC)).timestamp() - now.timestamp())
    if seconds <= 0:
        return "now"
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"in {days}d{hrs:02d}h"
    if hours:
        return f"in {hours}h{mins:02d}m"
    return f"in {minutes}m{secs:02d}s" if minutes else f"in {secs}s"
