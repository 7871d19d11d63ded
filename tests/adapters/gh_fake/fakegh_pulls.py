"""``gh pr list|view|create|diff|review|merge`` and ``gh api repos/…/pulls/N/files``.

A pull request diffs its branch (live, from ``branches``) against the base as it was when
the pull request was opened; merging writes the changed paths onto the base branch (and is
refused when the base changed one of them since). Messages are gh's and GitHub's: ``GraphQL:
Could not resolve to a PullRequest with the number of N. (repository.pullRequest)``, ``pull
request create failed: GraphQL: Head sha can't be blank, …``, ``failed to create review:
GraphQL: Review Can not approve your own pull request (addPullRequestReview)``, ``X Pull
request #N is not mergeable: R.``, ``GraphQL: Head branch was modified. Review and try the
merge again. (mergePullRequest)``, ``! Pull request #N was already merged`` (exit 0), and for
``gh api`` a 404 body on stdout with ``gh: Not Found (HTTP 404)``.
"""

from __future__ import annotations

import re
from typing import Any

from fakegh_state import State, timestamp, tree_sha
from fakegh_util import (
    Args,
    GhExit,
    changed,
    check_fields,
    export,
    fail,
    file_entry,
    file_patch,
    go_json,
    jq,
    unsupported,
)

PR_FIELDS = (
    "additions assignees author baseRefName body changedFiles closed closedAt comments commits"
    " createdAt deletions files headRefName headRefOid headRepository headRepositoryOwner id"
    " isCrossRepository isDraft labels latestReviews maintainerCanModify mergeCommit"
    " mergeStateStatus mergeable mergedAt mergedBy milestone number potentialMergeCommit"
    " projectCards reactionGroups reviewDecision reviewRequests reviews state statusCheckRollup"
    " title updatedAt url"
)
_VERDICTS = {"approve": "APPROVED", "request-changes": "CHANGES_REQUESTED", "comment": "COMMENTED"}


def _url(state: State, number: int) -> str:
    return f"https://github.com/{state['repo']}/pull/{number}"


def _files(state: State, pr: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    branch = state["branches"].get(pr["head"], {"files": pr["baseFiles"]})
    return pr["baseFiles"], branch["files"]


def _view(state: State, pr: dict[str, Any]) -> dict[str, Any]:
    old, new = _files(state, pr)
    head = state["branches"].get(pr["head"], {}).get("sha", pr.get("headSha", ""))
    return {
        "number": pr["number"],
        "title": pr["title"],
        "body": pr["body"],
        "state": pr["state"],
        "closed": pr["state"] != "OPEN",
        "headRefName": pr["head"],
        "baseRefName": pr["base"],
        "headRefOid": head,
        "author": {"id": "U_1", "is_bot": False, "login": pr["author"], "name": ""},
        "createdAt": pr["createdAt"],
        "updatedAt": pr["updatedAt"],
        "url": _url(state, pr["number"]),
        "reviews": pr["reviews"],
        "files": [
            {"path": f["filename"], "additions": f["additions"], "deletions": f["deletions"]}
            for f in (file_entry(p, old.get(p), new.get(p)) for p in changed(old, new))
        ],
    }


def find(state: State, number: str) -> dict[str, Any]:
    pr = state["pulls"].get(number)
    if pr is None:
        raise fail(
            f"GraphQL: Could not resolve to a PullRequest with the number of {number}."
            " (repository.pullRequest)"
        )
    return pr  # type: ignore[no-any-return]


def pr_list(state: State, args: Args, stdin: str | None) -> str:
    fields = check_fields(args, PR_FIELDS, _view(state, _blank()).keys())
    wanted = (args.one("state", "open") or "").upper()
    head = args.one("head")
    found = [
        p
        for p in state["pulls"].values()
        if (wanted == "ALL" or p["state"] == wanted) and head in (None, p["head"])
    ]
    found.sort(key=lambda p: p["number"], reverse=True)  # gh: newest first
    limit = int(args.one("limit", "30") or 0)
    return export([_view(state, p) for p in found[:limit]], fields, args)


def pr_view(state: State, args: Args, stdin: str | None) -> str:
    fields = check_fields(args, PR_FIELDS, _view(state, _blank()).keys())
    return export(_view(state, find(state, args.positional[0])), fields, args)


def pr_create(state: State, args: Args, stdin: str | None) -> str:
    head, base = args.one("head", "") or "", args.one("base", "") or ""
    title, body = args.one("title", "") or "", stdin if stdin is not None else args.one("body")
    if not title.strip() or body is None:
        raise fail("must provide `--title` and `--body` when not running interactively")
    for pr in state["pulls"].values():
        if pr["head"] == head and pr["base"] == base and pr["state"] == "OPEN":
            raise fail(
                f'a pull request for branch "{head}" into branch "{base}" already exists:\n'
                + _url(state, pr["number"])
            )
    branches = state["branches"]
    problems = []
    if head not in branches:
        problems.append("Head sha can't be blank")
    if base not in branches:
        problems.append("Base sha can't be blank")
    if head not in branches or base not in branches or _same(branches[head], branches[base]):
        problems.append(f"No commits between {base} and {head}")
    if head not in branches:
        problems.append("Head ref must be a branch")
    if problems:
        raise fail(
            f"pull request create failed: GraphQL: {', '.join(problems)} (createPullRequest)"
        )
    number = state["next_number"]
    state["next_number"] += 1
    now = timestamp(state)
    state["pulls"][str(number)] = {
        "number": number,
        "title": title,
        "body": body,
        "head": head,
        "base": base,
        "state": "OPEN",
        "author": state["viewer"],
        "createdAt": now,
        "updatedAt": now,
        "baseFiles": dict(branches[base]["files"]),
        "reviews": [],
    }
    return _url(state, number) + "\n"


def pr_diff(state: State, args: Args, stdin: str | None) -> str:
    if args.one("color", "auto") != "never":
        raise unsupported("pr diff without --color=never")
    old, new = _files(state, find(state, args.positional[0]))
    return "".join(file_patch(p, old.get(p), new.get(p)) for p in changed(old, new))


def pr_review(state: State, args: Args, stdin: str | None) -> str:
    pr = find(state, args.positional[0])
    (flag,) = [f for f in _VERDICTS if args.has(f)]
    body = stdin if stdin is not None else args.one("body", "")
    if flag != "approve" and not (body or "").strip():
        raise fail(f"body cannot be blank for {flag} review")
    if flag != "comment" and pr["author"] == state["viewer"]:
        verb = "approve" if flag == "approve" else "request changes on"
        raise fail(
            f"failed to create review: GraphQL: Review Can not {verb} your own pull request"
            " (addPullRequestReview)"
        )
    pr["reviews"].append(
        {
            "id": f"PRR_{len(pr['reviews']) + 1}",
            "author": {"login": state["viewer"]},
            "authorAssociation": "OWNER",
            "body": body,
            "submittedAt": timestamp(state),
            "includesCreatedEdit": False,
            "reactionGroups": [],
            "state": _VERDICTS[flag],
            "commit": {"oid": _view(state, pr)["headRefOid"]},
        }
    )
    return ""


def pr_merge(state: State, args: Args, stdin: str | None) -> str:
    pr = find(state, args.positional[0])
    if not any(args.has(m) for m in ("merge", "squash", "rebase")):
        raise fail("--merge, --rebase, or --squash required when not running interactively")
    if pr["state"] == "MERGED":
        raise fail(f"! Pull request #{pr['number']} was already merged", code=0)
    base_now = state["branches"][pr["base"]]["files"]
    old, new = _files(state, pr)
    paths = changed(old, new)
    reason = state["merge_blocked"].get(str(pr["number"]))
    if reason is None and any(base_now.get(p) != old.get(p) for p in paths):
        reason = "the merge commit cannot be cleanly created"
    if pr["state"] != "OPEN" or reason:
        why = reason or "the pull request is closed"
        raise fail(f"X Pull request #{pr['number']} is not mergeable: {why}.")
    expected = args.one("match-head-commit")
    if expected is not None and expected != _view(state, pr)["headRefOid"]:
        raise fail(
            "GraphQL: Head branch was modified. Review and try the merge again. (mergePullRequest)"
        )
    merged = {p: t for p, t in base_now.items() if p not in paths}
    merged.update({p: new[p] for p in paths if p in new})
    state["branches"][pr["base"]] = {
        "sha": tree_sha(merged, f"merge-{pr['number']}"),
        "files": merged,
    }
    pr["headSha"] = _view(state, pr)["headRefOid"]
    pr["state"], pr["updatedAt"] = "MERGED", timestamp(state)
    return ""


def api(state: State, args: Args, stdin: str | None) -> str:
    path = args.positional[0].split("?")[0]
    match = re.fullmatch(r"repos/([^/]+/[^/]+)/pulls/(\d+)/files", path)
    if match is None or args.one("method", "GET") != "GET":
        raise unsupported(f"api call {args.positional[0]!r}")
    pr = state["pulls"].get(match[2]) if match[1] == state["repo"] else None
    if pr is None:
        body = '{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}'
        raise GhExit(1, "gh: Not Found (HTTP 404)\n", body)
    old, new = _files(state, pr)
    page = [file_entry(p, old.get(p), new.get(p)) for p in changed(old, new)]
    program = args.one("jq")
    if program is None:
        return go_json(page, escape_html=True)
    return "".join(go_json(out, escape_html=True) + "\n" for out in jq(program, page))


def _same(one: dict[str, Any], other: dict[str, Any]) -> bool:
    return bool(one["files"] == other["files"])


def _blank() -> dict[str, Any]:
    """A pull request with every stored key (``_view`` of it names the modelled fields)."""
    keys = ["title", "body", "head", "base", "author", "createdAt", "updatedAt"]
    return {"number": 0, "state": "OPEN", "baseFiles": {}, "reviews": [], **dict.fromkeys(keys, "")}


COMMANDS = {
    ("pr", "list"): pr_list,
    ("pr", "view"): pr_view,
    ("pr", "create"): pr_create,
    ("pr", "diff"): pr_diff,
    ("pr", "review"): pr_review,
    ("pr", "merge"): pr_merge,
}
