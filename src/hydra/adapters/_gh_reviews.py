"""Review verdicts on GitHub: how Hydra posts them and how ``merge`` reads them back.

GitHub refuses an approval or a change request on a pull request by its own author
(``Review Can not approve your own pull request``), which is the usual case for a factory
that opens and reviews its own changes with one token. So every review Hydra posts ends
with a hidden marker, ``<!-- hydra:verdict=veto -->``, and when GitHub refuses the formal
review the same body is posted as a plain comment review; the marker still carries the
verdict.

``merge`` blocks while the latest verdict of any reviewer is a veto: a review's state when
it is opinionated (``APPROVED``, ``CHANGES_REQUESTED``), else its marker. Dismissed and
pending reviews and plain comments carry no verdict. Reading per reviewer, as GitHub does,
means one reviewer's approval never lifts another's veto.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from ports import Verdict

FLAGS: Final[Mapping[str, str]] = {
    "approve": "--approve",
    "veto": "--request-changes",
    "comment": "--comment",
}
"""``gh pr review`` flag per verdict."""

_MARKER = "<!-- hydra:verdict={verdict} -->"
_MARKED = re.compile(r"<!-- hydra:verdict=(approve|veto|comment) -->\s*\Z")
_STATES: Final[Mapping[str, Verdict]] = {"APPROVED": "approve", "CHANGES_REQUESTED": "veto"}

OWN_PULL_REQUEST = "your own pull request"
"""What GitHub says when an author approves or requests changes on their own pull request."""


def review_body(body: str, verdict: Verdict) -> str:
    """``body`` with the verdict marker as its last line (never blank, as gh requires)."""
    marker = _MARKER.format(verdict=verdict)
    return f"{body.rstrip()}\n\n{marker}\n" if body.strip() else f"{marker}\n"


def verdict_of(review: Mapping[str, object]) -> Verdict | None:
    """The verdict a review (gh's ``reviews`` JSON item) carries, if any."""
    state = str(review.get("state") or "")
    if state in _STATES:
        return _STATES[state]
    if state != "COMMENTED":
        return None
    found = _MARKED.search(str(review.get("body") or ""))
    verdict = found.group(1) if found else None
    return "approve" if verdict == "approve" else "veto" if verdict == "veto" else None


def blocking_reviewers(reviews: Iterable[Mapping[str, object]]) -> list[str]:
    """Logins whose latest verdict (by ``submittedAt``) is a veto."""
    latest: dict[str, Verdict] = {}
    for review in sorted(reviews, key=lambda r: str(r.get("submittedAt") or "")):
        verdict = verdict_of(review)
        if verdict is None:
            continue
        author = review.get("author")
        login = author.get("login") if isinstance(author, Mapping) else None
        latest[str(login or "ghost")] = verdict
    return sorted(login for login, verdict in latest.items() if verdict == "veto")
