"""``gh issue list|view|create|comment|edit|close`` and ``gh label create`` against the state.

Messages are gh 2.23's: ``GraphQL: Could not resolve to an issue or pull request with the
number of N. (repository.issue)`` for an unknown number, ``could not add label: 'L' not
found`` / ``'L' not found`` for a label the repository lacks, ``! Issue #N (T) is already
closed`` (exit 0) on a second close. Label filters and search go through "GitHub search"
(as gh does whenever ``--label`` or ``--search`` is given): ``sort:created-asc|desc``,
``label:"x"`` and ``-label:"x"`` are understood, label names case-insensitively.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from fakegh_state import State, timestamp
from fakegh_util import Args, check_fields, export, fail, unsupported

ISSUE_FIELDS = (
    "assignees author body closed closedAt comments createdAt id labels milestone number"
    " projectCards reactionGroups state title updatedAt url"
)
MAX_BODY = 65_536


def url(state: State, number: int) -> str:
    return f"https://github.com/{state['repo']}/issues/{number}"


def _view(state: State, issue: dict[str, Any]) -> dict[str, Any]:
    labels = [state["labels"][name.lower()] for name in issue["labels"]]
    return {
        "number": issue["number"],
        "title": issue["title"],
        "body": issue["body"],
        "state": issue["state"],
        "closed": issue["state"] == "CLOSED",
        "labels": [{"id": f"LA_{lb['name']}", **lb} for lb in labels],
        "author": {"login": issue["author"]},
        "createdAt": issue["createdAt"],
        "updatedAt": issue["updatedAt"],
        "url": url(state, issue["number"]),
        "comments": issue["comments"],
    }


def find(state: State, number: str) -> dict[str, Any]:
    issue = state["issues"].get(number)
    if issue is None:
        raise fail(
            "GraphQL: Could not resolve to an issue or pull request with the number of"
            f" {number}. (repository.issue)"
        )
    return issue  # type: ignore[no-any-return]


def _search(query: str) -> tuple[bool, set[str], set[str]]:
    ascending, wanted, unwanted = False, set(), set()
    for token in shlex.split(query):
        match = re.fullmatch(r"(-?)label:(.+)", token)
        if token in ("sort:created-asc", "sort:created-desc"):
            ascending = token.endswith("asc")
        elif match:
            (unwanted if match[1] else wanted).add(match[2].lower())
        else:
            raise unsupported(f"search term {token!r}")
    return ascending, wanted, unwanted


def issue_list(state: State, args: Args, stdin: str | None) -> str:
    fields = check_fields(args, ISSUE_FIELDS, _view(state, _blank()).keys())
    limit = int(args.one("limit", "30") or 0)
    if limit < 1:
        raise fail(f"invalid limit: {limit}")
    wanted = {label.lower() for label in args.csv("label")}
    ascending, more, unwanted = _search(args.one("search", "") or "")
    wanted |= more
    state_name = (args.one("state", "open") or "").upper()
    found = [
        i
        for i in state["issues"].values()
        if i["state"] == state_name
        and wanted <= {n.lower() for n in i["labels"]}
        and not unwanted & {n.lower() for n in i["labels"]}
    ]
    found.sort(key=lambda i: (i["createdAt"], i["number"]), reverse=not ascending)
    return export([_view(state, i) for i in found[:limit]], fields, args)


def issue_view(state: State, args: Args, stdin: str | None) -> str:
    fields = check_fields(args, ISSUE_FIELDS, _view(state, _blank()).keys())
    return export(_view(state, find(state, args.positional[0])), fields, args)


def _labels(state: State, names: list[str], prefix: str) -> None:
    for name in names:
        if name.lower() not in state["labels"]:
            raise fail(f"{prefix}'{name}' not found")


def issue_create(state: State, args: Args, stdin: str | None) -> str:
    title, body = args.one("title", "") or "", stdin if stdin is not None else args.one("body")
    if not title.strip():
        raise fail("title can't be blank")
    if body is None:
        raise fail("must provide `--title` and `--body` when not running interactively")
    labels = args.csv("label")
    _labels(state, labels, "could not add label: ")
    if len(body) > MAX_BODY:
        raise fail("GraphQL: Body is too long (maximum is 65536 characters) (createIssue)")
    number = state["next_number"]
    state["next_number"] += 1
    now = timestamp(state)
    state["issues"][str(number)] = {
        "number": number,
        "title": title,
        "body": body,
        "labels": [state["labels"][n.lower()]["name"] for n in dict.fromkeys(labels)],
        "state": "OPEN",
        "author": state["viewer"],
        "createdAt": now,
        "updatedAt": now,
        "comments": [],
    }
    return url(state, number) + "\n"


def issue_comment(state: State, args: Args, stdin: str | None) -> str:
    issue = find(state, args.positional[0])
    body = stdin if stdin is not None else args.one("body", "")
    if not (body or "").strip():
        raise fail("body cannot be blank")
    now = timestamp(state)
    issue["comments"].append(
        {
            "id": f"IC_{len(issue['comments']) + 1}",
            "author": {"login": state["viewer"]},
            "authorAssociation": "OWNER",
            "body": body,
            "createdAt": now,
            "includesCreatedEdit": False,
            "isMinimized": False,
            "minimizedReason": "",
            "reactionGroups": [],
            "url": f"{url(state, issue['number'])}#issuecomment-{state['now']}",
            "viewerDidAuthor": True,
        }
    )
    issue["updatedAt"] = now
    return f"{url(state, issue['number'])}#issuecomment-{state['now']}\n"


def issue_edit(state: State, args: Args, stdin: str | None) -> str:
    issue = find(state, args.positional[0])
    add, remove = args.csv("add-label"), args.csv("remove-label")
    _labels(state, add + remove, "")
    names = [n for n in issue["labels"] if n.lower() not in {r.lower() for r in remove}]
    names += [
        state["labels"][a.lower()]["name"] for a in add if a.lower() not in map(str.lower, names)
    ]
    issue["labels"], issue["updatedAt"] = names, timestamp(state)
    return url(state, issue["number"]) + "\n"


def issue_close(state: State, args: Args, stdin: str | None) -> str:
    issue = find(state, args.positional[0])
    if issue["state"] == "CLOSED":
        raise fail(f"! Issue #{issue['number']} ({issue['title']}) is already closed", code=0)
    issue["state"], issue["updatedAt"] = "CLOSED", timestamp(state)
    return ""


def label_create(state: State, args: Args, stdin: str | None) -> str:
    (name,) = args.positional
    if name.lower() in state["labels"]:
        raise fail(
            f'label with name "{name}" already exists; use `--force` to update its color and'
            " description"
        )
    state["labels"][name.lower()] = {
        "name": name,
        "color": args.one("color", "ededed"),
        "description": args.one("description", ""),
    }
    return ""


def _blank() -> dict[str, Any]:
    """An issue with every stored key (``_view`` of it names the modelled fields)."""
    keys = ["title", "body", "author", "createdAt", "updatedAt"]
    return {"number": 0, "state": "OPEN", "labels": [], "comments": [], **dict.fromkeys(keys, "")}


COMMANDS = {
    ("issue", "list"): issue_list,
    ("issue", "view"): issue_view,
    ("issue", "create"): issue_create,
    ("issue", "comment"): issue_comment,
    ("issue", "edit"): issue_edit,
    ("issue", "close"): issue_close,
    ("label", "create"): label_create,
}
