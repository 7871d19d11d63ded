"""``hydra costs``: spend by loop, by source and by UTC day, computed from the costs stream."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hydra.cli._common import EXIT_OK, EXIT_USAGE, add_location_args, fail, print_json
from hydra.cli._width import fit_line, output_width, print_table


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "costs", help="spend rollups from the costs audit stream"
    )
    add_location_args(parser)
    parser.add_argument("--since", metavar="DATE", help="from this UTC date/time (ISO 8601)")
    parser.add_argument("--until", metavar="DATE", help="before this UTC date/time (ISO 8601)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle)


def parse_when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{flag}: {value!r} is not an ISO 8601 date or date-time", EXIT_USAGE)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handle(args: argparse.Namespace) -> int:
    from hydra.audit import iter_records
    from hydra.cli._common import existing_data_dir
    from hydra.costs import rollup

    since = parse_when(args.since, "--since")
    until = parse_when(args.until, "--until")
    root = existing_data_dir(args) / "audit"
    result = rollup(iter_records(root, "costs"), since=since, until=until)
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    total = result.total
    key = f"total: ${total.usd:.4f}"
    rest = f"over {total.calls} calls ({total.input_tokens} tokens in, {total.output_tokens} out)"
    print(fit_line(f"{key} {rest}", output_width(), keep=len(key)))
    for title, table in (
        ("loop", result.by_loop),
        ("source", result.by_source),
        ("day", result.by_day),
    ):
        if not table:
            continue
        print()
        rows = [
            [k, f"{v.usd:.4f}", v.calls, v.input_tokens, v.output_tokens]
            for k, v in sorted(table.items())
        ]
        # every column is key (a name, numbers): only the gaps give way to a narrow terminal
        print_table([title, "usd", "calls", "tokens_in", "tokens_out"], rows)
    return EXIT_OK
