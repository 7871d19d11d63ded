"""Pieces every fake gh command uses: argv parsing, gh's JSON export, a jq subset, diffs.

gh's behaviour reproduced here, as documented or printed by gh 2.23: long flags as
``--name=value`` or ``--name value``; list flags (``--label``) parsed as CSV like pflag's
``StringSlice``; ``--json`` checks field names against the command's documented list and
prints one compact line with sorted keys; ``--jq`` prints each result on its own line, Go
``json.Marshal`` style (``<``, ``>``, ``&`` escaped). Only the jq programs the adapters use
are understood: pipes and commas of ``.``, ``.[]``, ``.f``, ``.f[]``, ``del(.f)`` and
``{a, b}``; anything else fails loudly, so a new program needs this fake to learn it first.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

BOOL_FLAGS = frozenset(
    {"approve", "request-changes", "comment", "merge", "squash", "rebase", "paginate", "force"}
)


class GhExit(Exception):
    """Ends a command: ``stderr`` text and exit ``code`` as gh would."""

    def __init__(self, code: int, stderr: str = "", stdout: str = "") -> None:
        super().__init__(stderr)
        self.code, self.stderr, self.stdout = code, stderr, stdout


def fail(message: str, code: int = 1, stdout: str = "") -> GhExit:
    return GhExit(code, message.rstrip("\n") + "\n", stdout)


def unsupported(what: str) -> GhExit:
    return fail(f"fake gh: unsupported {what}", code=64)


class Args:
    """Parsed argv: positional arguments and long flags (values kept in order)."""

    def __init__(self, argv: list[str]) -> None:
        self.positional: list[str] = []
        self.flags: dict[str, list[str]] = {}
        items = iter(argv)
        for item in items:
            if item == "--":
                self.positional.extend(items)
                break
            if item == "-R":
                item = "--repo"  # noqa: PLW2901 - gh's one short flag the adapters might use
            if not item.startswith("--"):
                self.positional.append(item)
                continue
            name, eq, value = item[2:].partition("=")
            if not eq and name not in BOOL_FLAGS:
                value = next(items, "")
            self.flags.setdefault(name, []).append(value if eq or name not in BOOL_FLAGS else "")

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else default

    def has(self, name: str) -> bool:
        return name in self.flags

    def csv(self, name: str) -> list[str]:
        """A StringSlice flag: every occurrence, each split as one CSV record."""
        out: list[str] = []
        for value in self.flags.get(name, []):
            out.extend(next(csv.reader([value])) if value else [])
        return out


def go_json(value: object, *, escape_html: bool) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def export(value: Any, fields: list[str], args: Args) -> str:
    """What ``--json=<fields> [--jq=<program>]`` prints for ``value`` (an object or a list)."""

    def pick(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {f: obj[f] for f in fields}

    data = [pick(v) for v in value] if isinstance(value, list) else pick(value)
    program = args.one("jq")
    if program is None:
        return go_json(data, escape_html=False) + "\n"
    return "".join(go_json(out, escape_html=True) + "\n" for out in jq(program, data))


def check_fields(args: Args, documented: str, modelled: Iterable[str]) -> list[str]:
    raw = args.one("json")
    if not raw:
        raise unsupported("output without --json")
    fields = raw.split(",")
    known = documented.split()
    for field in fields:
        if field not in known:
            listing = "".join(f"  {f}\n" for f in known)
            raise fail(f'Unknown JSON field: "{field}"\nAvailable fields:\n{listing}')
        if field not in modelled:
            raise unsupported(f"--json field {field!r}")
    return fields


# ---------------------------------------------------------------------- jq subset
def _split(program: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(program):
        depth += (char in "([{") - (char in ")]}")
        if char == sep and depth == 0:
            parts.append(program[start:i].strip())
            start = i + 1
    parts.append(program[start:].strip())
    return parts


def _term(term: str, value: Any) -> list[Any]:
    if term == ".":
        return [value]
    if term == ".[]":
        return list(value.values() if isinstance(value, dict) else value)
    if match := re.fullmatch(r"\.(\w+)(\[\])?", term):
        inner = value.get(match[1])
        return list(inner) if match[2] else [inner]
    if match := re.fullmatch(r"del\(\.(\w+)\)", term):
        return [{k: v for k, v in value.items() if k != match[1]}]
    if match := re.fullmatch(r"\{\s*(\w+(?:\s*,\s*\w+)*)\s*\}", term):
        return [{k: value.get(k) for k in re.split(r"\s*,\s*", match[1])}]
    raise unsupported(f"jq term {term!r}")


def jq(program: str, value: Any) -> list[Any]:
    current = [value]
    for stage in _split(program, "|"):
        current = [out for v in current for term in _split(stage, ",") for out in _term(term, v)]
    return current


# ---------------------------------------------------------------------- diffs
def _lines(text: str | None) -> list[str]:
    return [] if text is None else text.splitlines(keepends=True)


def file_patch(path: str, before: str | None, after: str | None) -> str:
    """One file's part of a ``git diff`` (what ``gh pr diff`` prints)."""
    old, new = (
        ("/dev/null" if before is None else f"a/{path}"),
        ("/dev/null" if after is None else f"b/{path}"),
    )
    head = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        head.append("new file mode 100644\n")
    elif after is None:
        head.append("deleted file mode 100644\n")
    body = difflib.unified_diff(_lines(before), _lines(after), old, new)
    return "".join(head) + "".join(line if line.endswith("\n") else line + "\n" for line in body)


def changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))


def file_entry(path: str, before: str | None, after: str | None) -> dict[str, Any]:
    """A REST ``pulls/N/files`` item."""
    diff = list(difflib.unified_diff(_lines(before), _lines(after)))[2:]
    adds = sum(1 for line in diff if line.startswith("+"))
    dels = sum(1 for line in diff if line.startswith("-"))
    status = "added" if before is None else "removed" if after is None else "modified"
    return {
        "filename": path,
        "status": status,
        "additions": adds,
        "deletions": dels,
        "changes": adds + dels,
        "patch": "".join(diff),
    }
