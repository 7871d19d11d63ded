"""``hydra issue``: file, list, read, label, comment on and close issues of the local inbox.

Works on the files directly (``<data-dir>/inbox/<repo>/``), with or without a running daemon:
the inbox serialises writers with a file lock. From any subdirectory, settings are those of
the nearest ``hydra.toml`` up to the git root, read as ``hydra run`` reads them there
(:func:`hydra.cli._common.locate`). ``--repo`` defaults to the managed repository the daemon
would read (:func:`default_repo_for`): the configured ``[repos.<name>]`` whose path holds the
working directory, else the only one configured; with none configured, the git repository
the command runs in (its directory name), as the daemon does. ``new`` prints the issue's id
and the inbox directory it wrote to.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_location_args,
    data_dir_from,
    fail,
    inherited_default,
    locate,
    print_json,
)
from hydra.cli._width import print_table

if TYPE_CHECKING:
    from hydra.adapters.inbox import LocalInbox
    from ports import Issue, IssueState

_STATES: tuple[IssueState, ...] = ("open", "closed")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "issue", help="the local issue inbox (new, list, show, label, comment, close)"
    )
    _location(parser, inherited=False)  # before the action, or after it (inherited)
    actions = parser.add_subparsers(dest="issue_action", metavar="ACTION", required=True)
    new = _action(actions, "new", "file a new issue")
    new.add_argument("title")
    new.add_argument("--body", default="", help="the issue's text")
    new.add_argument("--label", action="append", default=[], metavar="L", help="repeatable")
    new.add_argument("--author", help="who files it (default: your login name)")
    new.add_argument("--json", action="store_true", help="print the issue as JSON")
    listing = _action(actions, "list", "list issues, oldest first")
    listing.add_argument("--label", action="append", default=[], metavar="L", help="must have L")
    listing.add_argument("--state", choices=("open", "closed", "all"), default="open")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = _action(actions, "show", "one issue with its comments")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="print JSON")
    label = _action(actions, "label", "add or remove labels")
    label.add_argument("id")
    label.add_argument("--add", action="extend", nargs="+", default=[], metavar="L")
    label.add_argument("--remove", action="extend", nargs="+", default=[], metavar="L")
    comment = _action(actions, "comment", "add a comment")
    comment.add_argument("id")
    comment.add_argument("--body", required=True, help="the comment's text")
    comment.add_argument("--author", help="who writes it (default: your login name)")
    close = _action(actions, "close", "close an issue")
    close.add_argument("id")
    parser.set_defaults(handler=handle)


def _action(actions: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    _location(parser, inherited=True)
    return parser


def _location(parser: argparse.ArgumentParser, *, inherited: bool) -> None:
    add_location_args(parser, inherited=inherited)
    parser.add_argument(
        "--repo",
        metavar="NAME",
        default=inherited_default(inherited),
        help="repository (default: the configured one holding the working directory)",
    )


def handle(args: argparse.Namespace) -> int:
    import anyio

    from hydra.adapters.inbox import LocalInbox
    from hydra.statefile import DurabilityError
    from ports import PortError

    repo = args.repo or default_repo_for(args)
    author = getattr(args, "author", None) or _login()
    try:
        inbox = LocalInbox(data_dir_from(args), repo, author=author)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        return anyio.run(_ACTIONS[args.issue_action], inbox, args)
    except PortError as exc:
        code = EXIT_USAGE if exc.kind in ("not_found", "invalid") else EXIT_FAILED
        raise CliError(exc.args[0], code) from None
    except DurabilityError as exc:
        # A failed fsync: the change may be lost; say so in one line, never retry.
        raise CliError(exc.strerror or str(exc)) from None


def default_repo_for(args: argparse.Namespace, cwd: Path | None = None) -> str:
    """The managed repository (as the daemon's settings name it) that ``cwd`` belongs to.

    Settings are read as ``hydra run`` reads them where the config file is (:func:`locate`):
    from a subdirectory, ``hydra.toml`` is found up to the git root and its relative paths
    resolve against its directory. The configured repository whose checkout holds ``cwd``
    (the innermost, if they nest), else the only one configured; with no ``[repos]`` table,
    the git repository holding that directory. Several configured and none holding ``cwd``:
    a usage error asking for ``--repo``.
    """
    from hydra.settings import SettingsError, load_settings, managed_repos

    here = (cwd or Path.cwd()).resolve()
    where = locate(args, here)
    try:
        settings = load_settings(where.config, cwd=where.base)
    except SettingsError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None
    repos = managed_repos(settings, cwd=where.base)
    holding = [r for r in repos if here == r.path or here.is_relative_to(r.path)]
    if holding:
        return max(holding, key=lambda r: len(r.path.parts)).name
    if len(repos) == 1:
        return repos[0].name
    names = ", ".join(r.name for r in repos)
    raise CliError(
        f"several repositories are configured ({names}); pick one with --repo", EXIT_USAGE
    )


async def _new(inbox: LocalInbox, args: argparse.Namespace) -> int:
    issue = await inbox.create_issue(args.title, args.body, args.label)
    if args.json:
        print_json(issue_dict(issue))
    else:
        print(f"#{issue.id} opened in {inbox.repo} ({inbox.directory}): {issue.title}")
    return EXIT_OK


async def _list(inbox: LocalInbox, args: argparse.Namespace) -> int:
    if args.limit < 0:
        fail("--limit must not be negative", EXIT_USAGE)
    issues: list[Issue] = []
    for state in (s for s in _STATES if args.state in (s, "all")):
        issues += await inbox.list_issues(labels=args.label, state=state, limit=args.limit)
    issues = sorted(issues, key=lambda i: int(i.id))[: args.limit]
    if args.json:
        print_json([issue_dict(i, comments=False) for i in issues])
    elif not issues:
        which = "" if args.state == "all" else args.state + " "
        print(f"no {which}issues in {inbox.repo} ({inbox.directory})")
    else:
        rows = [[i.id, i.state, ", ".join(sorted(i.labels)), _when(i), i.title] for i in issues]
        print_table(
            ["id", "state", "labels", "created", "title"],
            rows,
            free="title",
            soft=("labels", "created"),
        )
    return EXIT_OK


async def _show(inbox: LocalInbox, args: argparse.Namespace) -> int:
    issue = await inbox.get_issue(args.id)
    if args.json:
        print_json(issue_dict(issue))
        return EXIT_OK
    print(f"#{issue.id} {issue.title} [{issue.state}]")
    print(f"labels: {', '.join(sorted(issue.labels)) or '-'}")
    print(f"created {_when(issue)}, updated {issue.updated_at.isoformat(timespec='seconds')}")
    if issue.body:
        print(f"\n{issue.body}")
    for note in issue.comments:
        print(f"\n--- {note.author}, {note.created_at.isoformat(timespec='seconds')}")
        print(note.body)
    return EXIT_OK


async def _label(inbox: LocalInbox, args: argparse.Namespace) -> int:
    if not args.add and not args.remove:
        fail("label: give --add and/or --remove", EXIT_USAGE)
    for name in args.add:
        await inbox.add_label(args.id, name)
    for name in args.remove:
        await inbox.remove_label(args.id, name)
    issue = await inbox.get_issue(args.id)
    print(f"#{issue.id} labels: {', '.join(sorted(issue.labels)) or '-'}")
    return EXIT_OK


async def _comment(inbox: LocalInbox, args: argparse.Namespace) -> int:
    await inbox.comment(args.id, args.body)
    print(f"#{args.id}: comment added")
    return EXIT_OK


async def _close(inbox: LocalInbox, args: argparse.Namespace) -> int:
    before = await inbox.get_issue(args.id)
    await inbox.close_issue(args.id)
    print(f"#{before.id} {'was already closed' if before.state == 'closed' else 'closed'}")
    return EXIT_OK


_ACTIONS = {
    "new": _new,
    "list": _list,
    "show": _show,
    "label": _label,
    "comment": _comment,
    "close": _close,
}


def issue_dict(issue: Issue, *, comments: bool = True) -> dict[str, Any]:
    """An issue as plain JSON data (what ``--json`` prints)."""
    data: dict[str, Any] = {
        "id": issue.id,
        "title": issue.title,
        "body": issue.body,
        "labels": sorted(issue.labels),
        "state": issue.state,
        "created_at": issue.created_at.isoformat(),
        "updated_at": issue.updated_at.isoformat(),
        "url": issue.url,
    }
    if comments:
        data["comments"] = [
            {"author": c.author, "body": c.body, "created_at": c.created_at.isoformat()}
            for c in issue.comments
        ]
    return data


def _when(issue: Issue) -> str:
    return issue.created_at.isoformat(timespec="seconds")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"
