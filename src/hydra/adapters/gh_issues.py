"""``GhIssues``: the ``github`` world's issue tracker, over the ``gh`` CLI.

gh commands per method (each gh run is one runner call; all take ``--repo=<owner/name>``):

* ``list_issues``: ``gh issue list --state=S --limit=N --json=… --label=L…
  --search="sort:created-asc -label:\\"X\\"…" --jq=.[]``. gh answers label filters through
  GitHub search anyway; the search sorts oldest first and leaves the excluded labels out, so
  ``limit`` holds on the server. Labels are re-checked here (exact names); an excluded label
  search cannot express (one holding ``"``) is filtered here after reading ``scan_limit``.
  GitHub's search index can lag a write by seconds: re-read with ``get_issue`` before acting.
* ``get_issue``: ``gh issue view N --json=…,comments --jq="del(.comments), .comments[]"``.
* ``create_issue``: ``gh issue create --title=T --body-file=- --label=L…`` (body on stdin),
  then ``get_issue`` of the number in the URL gh prints.
* ``comment``: ``gh issue comment N --body-file=-``; ``close_issue``: ``gh issue close N``
  (gh itself treats an already closed issue as success).
* ``add_label`` / ``remove_label``: ``gh issue view N --json=labels,url`` and, only when the
  label must change, ``gh issue edit N --add-label=L`` / ``--remove-label=L``.

GitHub only attaches labels that exist. When gh reports ``'L' not found`` the label is
created (``gh label create -- L``) and the command repeated, unless ``create_missing_labels``
is off (then ``PortError("invalid")``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from hydra.adapters import _gh_parse as parse
from hydra.adapters._gh_cli import EACH_JQ, GhCli, JsonObject
from hydra.runner import EnvValue, Runner
from ports import Issue, IssuePort, IssueState, PortError, PortInfo
from ports.issues import check_body, check_label, check_title

__all__ = ["GhIssues"]

ISSUE_FIELDS = "number,title,body,labels,state,createdAt,updatedAt,url"
ISSUE_THEN_COMMENTS_JQ = "del(.comments), .comments[]"
"""gh ``--jq`` program: the issue without comments, then one comment per line."""
_MISSING_LABEL = re.compile(r"'(?P<label>[^\n]*)' not found")


def _csv(label: str) -> str:
    """``label`` as one value of gh's comma-separated (``encoding/csv``) list flags."""
    if '"' in label or label != label.strip():
        return '"' + label.replace('"', '""') + '"'
    return label


class GhIssues(IssuePort):
    """:class:`ports.IssuePort` for one GitHub repository (``owner/name``) through ``gh``.

    ``source`` prefixes the cost record of every call (default ``gh:<repo>``; each record is
    ``<source>:<operation>``). ``env`` reaches every gh child: put ``GH_TOKEN`` there as a
    :class:`hydra.runner.Secret` (the runner withholds the daemon's own environment).
    Raises `PortError` as the port says (``rate_limited`` on GitHub's rate limits,
    ``unconfigured`` when gh cannot be run, ``failed`` with gh's stderr otherwise) and
    :class:`hydra.runner.AuthFailed` (a :class:`ports.AuthFailed`) when gh is not logged in.
    """

    def __init__(
        self,
        repo: str,
        runner: Runner,
        *,
        executable: str = "gh",
        source: str | None = None,
        timeout_s: float = 60.0,
        env: Mapping[str, EnvValue] | None = None,
        create_missing_labels: bool = True,
        scan_limit: int = 1000,
    ) -> None:
        self._gh = GhCli(
            repo,
            runner,
            port="issues",
            executable=executable,
            source=source,
            timeout_s=timeout_s,
            env=env,
        )
        self.create_missing_labels = create_missing_labels
        self.scan_limit = scan_limit

    @property
    def repo(self) -> str:
        return self._gh.repo

    def info(self) -> PortInfo:
        return self._gh.info()

    async def list_issues(
        self,
        *,
        labels: Sequence[str] = (),
        exclude_labels: Sequence[str] = (),
        state: IssueState = "open",
        limit: int = 100,
    ) -> list[Issue]:
        if limit < 0 or state not in ("open", "closed"):
            raise PortError("invalid", f"bad state {state!r} or limit {limit}", port="issues")
        wanted = frozenset(check_label(label) for label in labels)
        unwanted = frozenset(exclude_labels)
        if limit == 0:
            return []
        searchable = sorted(label for label in unwanted if '"' not in label)
        fetch = limit if len(searchable) == len(unwanted) else max(limit, self.scan_limit)
        query = " ".join(["sort:created-asc", *(f'-label:"{label}"' for label in searchable)])
        args = [
            "issue",
            "list",
            self._gh.repo_flag,
            f"--state={state}",
            f"--limit={fetch}",
            f"--json={ISSUE_FIELDS}",
            f"--search={query}",
            *(f"--label={_csv(label)}" for label in sorted(wanted)),
            f"--jq={EACH_JQ}",
        ]
        found = [
            parse.issue(obj)
            for obj in await self._gh.json_lines(args, op="issue.list")
            if not parse.is_pull_request(obj)
        ]
        kept = [
            i for i in found if i.state == state and wanted <= i.labels and not unwanted & i.labels
        ]
        kept.sort(key=lambda i: (i.created_at, int(i.id)))
        return kept[:limit]

    async def get_issue(self, issue_id: str) -> Issue:
        number = parse.check_number(issue_id, port="issues", what="issue")
        args = [
            "issue",
            "view",
            number,
            self._gh.repo_flag,
            f"--json={ISSUE_FIELDS},comments",
            f"--jq={ISSUE_THEN_COMMENTS_JQ}",
        ]
        found = await self._gh.json_lines(args, op="issue.view")
        head = self._issue_object(found, number)
        notes = sorted((parse.comment(obj) for obj in found[1:]), key=lambda c: c.created_at)
        return parse.issue(head, comments=tuple(notes))

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        check_title(title)
        check_body(body)
        tags = list(dict.fromkeys(check_label(label) for label in labels))
        args = [
            "issue",
            "create",
            self._gh.repo_flag,
            f"--title={title}",
            "--body-file=-",
            *(f"--label={_csv(label)}" for label in tags),
        ]
        printed = await self._with_labels(args, op="issue.create", stdin=body, tries=len(tags))
        return await self.get_issue(parse.number_in_url(printed, "issues", port="issues"))

    async def comment(self, issue_id: str, body: str) -> None:
        number = parse.check_number(issue_id, port="issues", what="issue")
        check_body(body, what="a comment", allow_empty=False)
        args = ["issue", "comment", number, self._gh.repo_flag, "--body-file=-"]
        await self._gh.run(args, op="issue.comment", stdin=body)

    async def add_label(self, issue_id: str, label: str) -> None:
        number = parse.check_number(issue_id, port="issues", what="issue")
        if check_label(label) in await self._labels(number):
            return
        args = ["issue", "edit", number, self._gh.repo_flag, f"--add-label={_csv(label)}"]
        await self._with_labels(args, op="issue.edit", tries=1)

    async def remove_label(self, issue_id: str, label: str) -> None:
        number = parse.check_number(issue_id, port="issues", what="issue")
        if label not in await self._labels(number):
            return
        args = ["issue", "edit", number, self._gh.repo_flag, f"--remove-label={_csv(label)}"]
        await self._gh.run(args, op="issue.edit")

    async def close_issue(self, issue_id: str) -> None:
        number = parse.check_number(issue_id, port="issues", what="issue")
        await self._gh.run(["issue", "close", number, self._gh.repo_flag], op="issue.close")

    # ------------------------------------------------------------------ internals
    async def _labels(self, number: str) -> frozenset[str]:
        args = ["issue", "view", number, self._gh.repo_flag, "--json=labels,url"]
        found = await self._gh.json_lines(args, op="issue.view")
        return parse.labels_of(self._issue_object(found, number), port="issues")

    def _issue_object(self, found: list[JsonObject], number: str) -> JsonObject:
        if not found or parse.is_pull_request(found[0]):
            raise PortError("not_found", f"no issue #{number} in {self.repo}", port="issues")
        return found[0]

    async def _with_labels(
        self, args: list[str], *, op: str, tries: int, stdin: str | None = None
    ) -> str:
        """Run ``args``; create each label gh reports missing, then run again. Its stdout."""
        for attempt in range(tries + 1):
            result = await self._gh.call(args, op=op, stdin=stdin)
            if result.ok:
                return result.stdout.text()
            missing = _MISSING_LABEL.search(result.stderr.text())
            if missing is None or result.exit_code is None or attempt == tries:
                break
            await self._create_label(missing["label"])
        raise self._gh.fail(result, op)

    async def _create_label(self, label: str) -> None:
        if not self.create_missing_labels:
            why = f"label {label!r} does not exist in {self.repo}"
            raise PortError("invalid", why, port="issues")
        args = ["label", "create", self._gh.repo_flag, "--", label]
        result = await self._gh.call(args, op="label.create")
        if not (result.ok or "already exists" in result.stderr.text()):
            raise self._gh.fail(result, "label.create")
