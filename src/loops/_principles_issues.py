"""The one issue per (repository, stuck rule): filed once, commented on change, closed on pass.

An issue is found again by the id remembered in the loop's state, verified against the open
issues that carry the stuck label and the rule's marker (a hidden HTML comment in the body, the
title as a fallback); when the remembered id is gone (closed by someone, state lost, a crash
between filing and remembering) the marker alone finds it, and only when nothing matches is a
new issue filed. In shadow mode filing returns the placeholder id ``shadow``, which is
remembered so a shadow loop previews the filing once, and ignored in live mode.
"""

from __future__ import annotations

import hashlib
from typing import Final

from loops._principles_checkout import RuleResult
from loops._principles_secrets import redact
from ports import Issue, IssuePort

__all__ = ["SHADOW_ID", "StuckIssues", "finding_digest", "marker", "title"]

SHADOW_ID: Final = "shadow"
_LIST_LIMIT: Final = 1_000
_OUTPUT_CHARS: Final = 2_000


def marker(repo: str, rule_id: str) -> str:
    return f"<!-- hydra:principles-stuck repo={repo} rule={rule_id} -->"


def title(repo: str, rule_id: str) -> str:
    return f"Principle `{rule_id}` keeps failing in {repo}"


def finding_digest(result: RuleResult) -> str:
    """Identity of a failure as a human reads it (summary and evidence, not command output)."""
    text = "\n".join((result.finding.summary, *result.finding.evidence))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _details(result: RuleResult) -> str:
    lines = [f"**Finding:** {result.finding.summary}"]
    lines += [f"- `{item}`" for item in result.finding.evidence]
    output = result.finding.output
    if output:
        tail = redact(output[-_OUTPUT_CHARS:]).replace("```", "'''")
        lines += ["", "Output (tail):", "```", tail.rstrip(), "```"]
    return "\n".join(lines)


class StuckIssues:
    """The stuck-rule issues of one repository, looked up once per audit."""

    def __init__(self, port: IssuePort, *, repo: str, label: str, shadow: bool) -> None:
        self._port = port
        self._repo = repo
        self._label = label
        self._shadow = shadow
        self._open: list[Issue] = []

    async def load(self) -> None:
        """Read the open issues carrying the label (raises :class:`ports.PortError`)."""
        self._open = await self._port.list_issues(labels=[self._label], limit=_LIST_LIMIT)

    def locate(self, rule_id: str, remembered: str | None) -> str | None:
        """The id of the rule's open issue, or ``None`` when it has none."""
        if remembered == SHADOW_ID:
            return SHADOW_ID if self._shadow else None
        mark, name = marker(self._repo, rule_id), title(self._repo, rule_id)
        found = [i.id for i in self._open if mark in i.body or i.title == name]
        if remembered in found:
            return remembered
        return found[0] if found else None

    async def file(self, result: RuleResult, failures: int) -> str:
        rule = result.rule
        body = "\n".join(
            (
                marker(self._repo, rule.id),
                f"Rule `{rule.id}` ({rule.severity}) has failed {failures} consecutive audits "
                f"of `{self._repo}`.",
                "",
                f"> {rule.description}",
                "",
                _details(result),
                "",
                "Hydra's `principles_audit` loop comments here when the finding changes and "
                "closes this issue when the rule passes again.",
            )
        )
        issue = await self._port.create_issue(
            title(self._repo, rule.id), body, labels=[self._label]
        )
        return issue.id

    async def update(self, issue_id: str, result: RuleResult, failures: int) -> None:
        text = f"Still failing ({failures} consecutive audits), and the finding changed:\n\n"
        await self._port.comment(issue_id, text + _details(result))

    async def close(self, issue_id: str, result: RuleResult) -> None:
        text = f"Rule `{result.rule.id}` passes again: {result.finding.summary}. Closing."
        await self._port.comment(issue_id, text)
        await self._port.close_issue(issue_id)

    async def retire(self, issue_id: str, rule_id: str) -> None:
        text = f"Rule `{rule_id}` is no longer audited (disabled or removed). Closing."
        await self._port.comment(issue_id, text)
        await self._port.close_issue(issue_id)
