"""``GhChanges``: the ``github`` world's change requests (pull requests), over the ``gh`` CLI.

gh commands per method (each run is one runner call; ``--repo=<owner/name>`` but for gh api):

* ``list_open``: ``gh pr list --state=open --limit=<scan_limit> --json=… --jq=.[]``, sorted
  oldest first here (gh lists newest first).
* ``get_change``: ``gh pr view N --json=…``.
* ``changed_files``: ``gh api repos/<repo>/pulls/N/files?per_page=100 --paginate
  --jq=".[] | {filename, status, additions, deletions}"`` (gh's ``files`` field has no
  status and stops at 100 files).
* ``diff``: ``gh pr diff N --color=never``, read line by line and cut at ``max_bytes``.
* ``open_change``: ``gh pr list --head=B --state=open`` (an open one is returned as is), else
  ``gh pr create --head=B --base=BASE --title=T --body-file=-`` and ``get_change``.
* ``post_review``: ``gh pr review N --approve|--request-changes|--comment --body-file=-``;
  see :mod:`._gh_reviews` for the verdict marker and the own-pull-request fallback.
* ``merge``: ``gh pr view N --json=state,headRefOid,reviews`` (merged: done; closed, vetoed
  or, with ``expected_head``, a head that is not that one: ``conflict``), then ``gh pr merge N
  --merge --match-head-commit=<sha>`` so a head pushed after the check is never merged unseen
  (GitHub refuses: "Head branch was modified", a ``conflict`` saying the head moved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from hydra.adapters import _gh_parse as parse
from hydra.adapters._gh_cli import EACH_JQ, GhCli, JsonObject
from hydra.adapters._gh_errors import CREATE_PR_RULES, MERGE_RULES
from hydra.adapters._gh_reviews import FLAGS, OWN_PULL_REQUEST, blocking_reviewers, review_body
from hydra.runner import EnvValue, Runner
from ports import (
    TRUNCATION_MARKER,
    ChangedFile,
    ChangeRequest,
    ChangeRequestPort,
    PortError,
    PortInfo,
    Verdict,
)
from ports.issues import MAX_BODY, MAX_TITLE

__all__ = ["GhChanges", "MergeMethod"]

PR_FIELDS = "number,title,headRefName,baseRefName,headRefOid,state,author,url,body,createdAt"
PR_THEN_REVIEWS_JQ = "del(.reviews), .reviews[]"
"""gh ``--jq`` program: the pull request without reviews, then one review per line."""
FILES_JQ = ".[] | {filename, status, additions, deletions}"
"""gh ``--jq`` program: one REST file entry per line, without its (possibly long) patch."""
MergeMethod = Literal["merge", "squash", "rebase"]


class GhChanges(ChangeRequestPort):
    """:class:`ports.ChangeRequestPort` for one GitHub repository (``owner/name``) via ``gh``.

    Constructor arguments as :class:`hydra.adapters.gh_issues.GhIssues`, plus
    ``merge_method`` (gh's ``--merge``, ``--squash`` or ``--rebase``) and ``scan_limit``
    (the most open pull requests ``list_open`` reads). A merge GitHub refuses (conflicts,
    branch protection, a head that moved) is ``PortError("conflict")``; on a branch with a
    merge queue, gh queues the pull request and ``merge`` returns before it is merged.
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
        merge_method: MergeMethod = "merge",
        scan_limit: int = 1000,
    ) -> None:
        self._gh = GhCli(
            repo,
            runner,
            port="changes",
            executable=executable,
            source=source,
            timeout_s=timeout_s,
            env=env,
        )
        self.merge_method: MergeMethod = merge_method
        self.scan_limit = scan_limit

    @property
    def repo(self) -> str:
        return self._gh.repo

    def info(self) -> PortInfo:
        return self._gh.info()

    async def list_open(self) -> list[ChangeRequest]:
        return await self._list("--state=open")

    async def get_change(self, change_id: str) -> ChangeRequest:
        number = self._number(change_id)
        args = ["pr", "view", number, self._gh.repo_flag, f"--json={PR_FIELDS}"]
        return parse.change(self._one(await self._gh.json_lines(args, op="pr.view"), number))

    async def changed_files(self, change_id: str) -> list[ChangedFile]:
        number = self._number(change_id)
        args = [
            "api",
            f"repos/{self.repo}/pulls/{number}/files?per_page=100",
            "--paginate",
            f"--jq={FILES_JQ}",
        ]
        return [parse.changed_file(obj) for obj in await self._gh.json_lines(args, op="pr.files")]

    async def diff(self, change_id: str, *, max_bytes: int = 1_000_000) -> str:
        number = self._number(change_id)
        args = ["pr", "diff", number, self._gh.repo_flag, "--color=never"]
        text, cut = await self._gh.text(args, op="pr.diff", max_bytes=max_bytes)
        return text + TRUNCATION_MARKER.format(max_bytes=max_bytes) + "\n" if cut else text

    async def open_change(
        self, *, branch: str, base: str, title: str, body: str = ""
    ) -> ChangeRequest:
        existing = await self._open_for(branch)
        if existing is not None:
            return existing
        if not title.strip() or "\n" in title or len(title) > MAX_TITLE:
            why = f"a title needs 1 to {MAX_TITLE} characters on one line"
            raise PortError("invalid", why, port="changes")
        if len(body) > MAX_BODY or not base.strip():
            raise PortError("invalid", f"a base and a body of at most {MAX_BODY}", port="changes")
        args = [
            "pr",
            "create",
            self._gh.repo_flag,
            f"--head={branch}",
            f"--base={base}",
            f"--title={title}",
            "--body-file=-",
        ]
        result = await self._gh.call(args, op="pr.create", stdin=body)
        if not result.ok:
            raced = "already exists" in result.stderr.text()
            existing = await self._open_for(branch) if raced else None
            if existing is None:
                raise self._gh.fail(result, "pr.create", CREATE_PR_RULES)
            return existing
        printed = result.stdout.text()
        return await self.get_change(parse.number_in_url(printed, "pull", port="changes"))

    async def post_review(self, change_id: str, verdict: Verdict, body: str) -> None:
        number = self._number(change_id)
        flag = FLAGS.get(verdict)
        if flag is None:
            raise PortError("invalid", f"unknown verdict {verdict!r}", port="changes")
        text = review_body(body, verdict)
        if len(text) > MAX_BODY:
            raise PortError(
                "invalid", f"a review needs at most {MAX_BODY} characters", port="changes"
            )
        args = ["pr", "review", number, self._gh.repo_flag, flag, "--body-file=-"]
        result = await self._gh.call(args, op="pr.review", stdin=text)
        if result.ok:
            return
        if verdict == "comment" or OWN_PULL_REQUEST not in result.stderr.text().lower():
            raise self._gh.fail(result, "pr.review")
        args[4] = FLAGS["comment"]  # GitHub refuses the author's verdict; the marker keeps it
        await self._gh.run(args, op="pr.review", stdin=text)

    async def merge(self, change_id: str, *, expected_head: str | None = None) -> None:
        number = self._number(change_id)
        state, head_sha, vetoed_by = await self._merge_facts(number)
        if state == "MERGED":
            self._check_merged_at(number, head_sha, expected_head)
            return
        if state == "CLOSED":
            raise PortError("conflict", f"pull request #{number} is closed", port="changes")
        if expected_head is not None and head_sha != expected_head:
            raise PortError(
                "conflict",
                f"pull request #{number}: its head moved to {head_sha} (expected {expected_head})",
                port="changes",
            )
        if vetoed_by:
            who = ", ".join(vetoed_by)
            raise PortError("conflict", f"pull request #{number} vetoed by {who}", port="changes")
        args = [
            "pr",
            "merge",
            number,
            self._gh.repo_flag,
            f"--{self.merge_method}",
            f"--match-head-commit={head_sha}",
        ]
        result = await self._gh.call(args, op="pr.merge")
        stderr = result.stderr.text()
        if "was already merged" in stderr:  # by someone else since the check: at which head?
            if expected_head is not None:
                _, merged_at, _ = await self._merge_facts(number)
                self._check_merged_at(number, merged_at, expected_head)
            return
        if result.ok:
            return
        error = self._gh.fail(result, "pr.merge", MERGE_RULES)
        if error.kind == "conflict" and "head branch was modified" in stderr.lower():
            raise PortError(
                "conflict",
                f"pull request #{number}: its head moved after {head_sha} was checked ({error})",
                port="changes",
            )
        raise error

    # ------------------------------------------------------------------ internals
    async def _list(self, *filters: str) -> list[ChangeRequest]:
        args = [
            "pr",
            "list",
            self._gh.repo_flag,
            *filters,
            f"--limit={self.scan_limit}",
            f"--json={PR_FIELDS}",
            f"--jq={EACH_JQ}",
        ]
        found = await self._gh.json_lines(args, op="pr.list")
        ordered = sorted(found, key=lambda o: (str(o.get("createdAt")), int(o.get("number", 0))))
        return [parse.change(obj) for obj in ordered]

    async def _open_for(self, branch: str) -> ChangeRequest | None:
        if not branch.strip():
            raise PortError("invalid", "a change request needs a branch", port="changes")
        found = await self._list("--state=open", f"--head={branch}")
        return next((c for c in found if c.branch == branch and c.state == "open"), None)

    async def _merge_facts(self, number: str) -> tuple[str, str, list[str]]:
        """The pull request's state, head commit and the reviewers whose veto stands."""
        args = [
            "pr",
            "view",
            number,
            self._gh.repo_flag,
            "--json=state,headRefOid,reviews",
            f"--jq={PR_THEN_REVIEWS_JQ}",
        ]
        found = await self._gh.json_lines(args, op="pr.view")
        pull = self._one(found[:1], number)
        return str(pull.get("state")), parse.change_head(pull), blocking_reviewers(found[1:])

    @staticmethod
    def _check_merged_at(number: str, merged_at: str, expected_head: str | None) -> None:
        if expected_head is not None and merged_at != expected_head:
            raise PortError(
                "conflict",
                f"pull request #{number} was merged at {merged_at}, "
                f"not at the expected head {expected_head}",
                port="changes",
            )

    def _number(self, change_id: str) -> str:
        return parse.check_number(change_id, port="changes", what="pull request")

    def _one(self, found: list[JsonObject], number: str) -> JsonObject:
        if not found:
            raise PortError(
                "not_found", f"no pull request #{number} in {self.repo}", port="changes"
            )
        return found[0]
