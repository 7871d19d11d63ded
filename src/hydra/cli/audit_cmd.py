"""``hydra audit``: read, query and verify the audit streams in the data dir directly.

Works with the daemon stopped; imports neither the web stack nor pydantic, so it starts fast.
``query`` writes raw JSON lines (pipe them to ``jq``); the other commands print a table or a
line per record for people, fitted to the terminal (:mod:`hydra.cli._width`), and JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from hydra.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_location_args,
    existing_data_dir,
    fail,
    print_json,
)
from hydra.cli._width import fit_line, fit_row, output_width, print_table


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="read, query and verify the audit streams (daemon not needed)"
    )
    add_location_args(parser)  # before the action, or after it (inherited), both work
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION")
    actions.required = True
    streams = actions.add_parser("streams", help="list streams with sizes and record counts")
    add_location_args(streams, inherited=True)
    streams.add_argument("--json", action="store_true")
    tail = actions.add_parser("tail", help="the newest records of a stream; -f to follow")
    add_location_args(tail, inherited=True)
    tail.add_argument("stream", nargs="?", default="control")
    tail.add_argument("-n", "--lines", type=int, default=20, metavar="N")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    _filters(tail)
    tail.add_argument("--json", action="store_true", help="raw JSON lines")
    query = actions.add_parser("query", help="matching records as JSON lines (fast; pipe to jq)")
    add_location_args(query, inherited=True)
    query.add_argument("stream")
    _filters(query)
    query.add_argument("--limit", type=int, metavar="N")
    query.add_argument(
        "--json", action="store_true", help="accepted for symmetry: query always prints JSON lines"
    )
    verify = actions.add_parser("verify", help="check sequence, hash chain and every line")
    add_location_args(verify, inherited=True)
    verify.add_argument("stream", nargs="?", help="one stream (default: all)")
    verify.add_argument("--json", action="store_true")
    repair = actions.add_parser(
        "repair", help="cut a damaged stream at its first damage (moved aside, audited)"
    )
    add_location_args(repair, inherited=True)
    repair.add_argument("stream")
    repair.add_argument("--force", action="store_true", required=True, help="yes, cut it")
    parser.set_defaults(handler=handle)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action", action="append", metavar="NAME", help="exact or prefix.*")
    parser.add_argument("--run", metavar="RUN_ID")
    parser.add_argument("--actor")
    parser.add_argument("--since", metavar="TIME", help="ISO 8601, UTC if no offset")
    parser.add_argument("--until", metavar="TIME", help="ISO 8601, UTC if no offset")


def _when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{flag}: {value!r} is not an ISO 8601 date or date-time", EXIT_USAGE)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter_from(args: argparse.Namespace) -> Any:
    from hydra.audit import RecordFilter

    flt = RecordFilter(
        actions=frozenset(args.action) if args.action else None,
        run=args.run,
        actor=args.actor,
        since=_when(args.since, "--since"),
        until=_when(args.until, "--until"),
    )
    return None if flt.is_empty else flt


def _check_stream(root: Any, name: str) -> None:
    from hydra.audit import list_streams

    names = [s.name for s in list_streams(root)]
    if name not in names:
        known = ", ".join(names) or "none yet"
        fail(f"no audit stream {name!r} in {root} (streams: {known})", EXIT_USAGE)


def handle(args: argparse.Namespace) -> int:
    root = existing_data_dir(args) / "audit"
    action: str = args.audit_action
    if action == "streams":
        return _streams(root, args)
    if action == "verify":
        return _verify(root, args)
    _check_stream(root, args.stream)
    if action == "query":
        from hydra.audit import query

        if args.limit is not None and args.limit < 0:
            fail("--limit must not be negative", EXIT_USAGE)
        query(root, args.stream, _filter_from(args), limit=args.limit, out=sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return EXIT_OK
    if action == "tail":
        return _tail(root, args)
    return _repair(root, args)


def _streams(root: Any, args: argparse.Namespace) -> int:
    from hydra.audit import list_streams

    infos = list_streams(root)
    rows = [
        {
            "stream": i.name,
            "segments": len(i.segments),
            "bytes": i.total_bytes,
            "first_seq": i.first_seq,
            "last_seq": i.last_seq,
            "records": (i.last_seq - i.first_seq + 1) if i.first_seq and i.last_seq else 0,
        }
        for i in infos
    ]
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"no audit streams in {root}")
    else:
        print_table(list(rows[0]), [list(r.values()) for r in rows])
    return EXIT_OK


def _tail(root: Any, args: argparse.Namespace) -> int:
    import itertools

    import orjson

    from hydra.audit import follow, iter_records_reverse

    if args.lines < 0:
        fail("-n must not be negative", EXIT_USAGE)
    flt = _filter_from(args)
    newest = list(itertools.islice(iter_records_reverse(root, args.stream, filter=flt), args.lines))
    for record in reversed(newest):
        _print_record(record, raw=args.json, dumps=orjson.dumps)
    if args.follow:
        try:
            for record in follow(root, args.stream, filter=flt, from_end=True):
                _print_record(record, raw=args.json, dumps=orjson.dumps)
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK


def _print_record(record: dict[str, Any], *, raw: bool, dumps: Any) -> None:
    if raw:
        sys.stdout.buffer.write(dumps(record) + b"\n")
    else:
        width = output_width()  # asked per record: `tail -f` follows a resized terminal
        ts = str(record["ts"])
        payload = dumps(record.get("payload") or {}).decode()
        if width is None:
            if len(payload) > 160:
                payload = payload[:157] + "..."
        else:
            whole, dot, fraction = ts.partition(".")
            ts = whole + fraction.lstrip("0123456789") if dot else ts  # to the second
        cells = (
            ts,
            f"#{record['seq']}",
            str(record["actor"]),
            str(record["action"]),
            str(record.get("run") or "-"),
            payload,
        )
        # key: when, seq, who, what (only their padding gives way); the payload is cut first
        print(fit_row(cells, width, gaps=_RECORD_GAPS, pad_to=_RECORD_PAD, key=range(4), free=5))
    sys.stdout.flush()


_RECORD_GAPS = (2, 1, 1, 1, 2)
_RECORD_PAD = (0, 7, 16, 18)


def _verify(root: Any, args: argparse.Namespace) -> int:
    from hydra.audit import list_streams, verify

    if args.stream:
        _check_stream(root, args.stream)
        names = [args.stream]
    else:
        names = [s.name for s in list_streams(root)]
    reports = [verify(root, name) for name in names]
    if args.json:
        print_json([r.to_dict() for r in reports])
    else:
        width = output_width()
        for report in reports:
            for line, keep in _report_lines(report):
                print(fit_line(line, width, keep=keep))
        if not reports:
            print(f"no audit streams in {root}")
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def _report_lines(report: Any) -> list[tuple[str, int]]:
    """The lines of a verify report, each with its length never cut: the status (``stream
    NAME: OK``) and, for a finding, all but its free-text detail."""
    lines = report.format().split("\n")
    status = lines[0].find(" (")
    keeps = [status if status >= 0 else len(lines[0])]
    keeps += [len(f"  {item.format()}") - len(item.detail) for item in report.findings]
    return [(line, keeps[i] if i < len(keeps) else 0) for i, line in enumerate(lines)]


def _repair(root: Any, args: argparse.Namespace) -> int:
    from hydra.audit import force_repair

    report = force_repair(root, args.stream)
    print(report.format())
    return EXIT_OK
