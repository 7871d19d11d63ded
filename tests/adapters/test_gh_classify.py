"""gh's texts → runner verdicts and PortError kinds; review verdicts; the fake's jq subset.

The texts are gh 2.23's format strings around GitHub's messages (see ``_gh_errors``). The
fake gh's jq subset is checked against the real ``jq`` on the programs the adapters send,
so the fake cannot drift from jq semantics unnoticed (jq is installed by scripts/system-deps;
missing, it skips locally and fails in CI like the real-gh tests).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from hydra.adapters._gh_cli import EACH_JQ
from hydra.adapters._gh_errors import GH_CLASSIFIER, MERGE_RULES, NOT_LOGGED_IN, kind_of
from hydra.adapters._gh_reviews import blocking_reviewers, review_body, verdict_of
from hydra.adapters.gh_changes import FILES_JQ, PR_THEN_REVIEWS_JQ
from hydra.adapters.gh_issues import ISSUE_THEN_COMMENTS_JQ
from hydra.runner import Captured
from tests.adapters.gh_fake.fakegh_util import jq
from tests.adapters.gh_fake.rig import real_tool

LOGIN = "Try authenticating with:  gh auth login"


NOT_LOGGED_IN_2_23 = NOT_LOGGED_IN + "\nAlternatively, populate the GH_TOKEN environment…"
NO_HOSTS = "You are not logged into any GitHub hosts. Run gh auth login to authenticate."
GRAPHQL = "(https://api.github.com/graphql)"
NOT_FOUND = "GraphQL: Could not resolve to an issue or pull request with the number of 9."


@pytest.mark.parametrize(
    ("code", "stderr", "status", "transient"),
    [
        (4, NOT_LOGGED_IN_2_23, "auth_failed", False),
        (4, "", "auth_failed", False),
        (1, NO_HOSTS, "auth_failed", False),
        (1, f"HTTP 401: Bad credentials {GRAPHQL}\n{LOGIN}", "auth_failed", True),
        (1, "gh: Bad credentials (HTTP 401)", "auth_failed", True),
        (1, f"HTTP 401: Requires authentication {GRAPHQL}\n{LOGIN}", "auth_failed", True),
        (
            1,
            f"HTTP 403: API rate limit exceeded for user ID 1000. {GRAPHQL}",
            "rate_limited",
            False,
        ),
        (1, "gh: You have exceeded a secondary rate limit. (HTTP 403)", "rate_limited", False),
        (1, f"HTTP 429: Too Many Requests {GRAPHQL}", "rate_limited", False),
        (1, "GraphQL: was submitted too quickly (createIssue)", "rate_limited", False),
        (1, "error connecting to api.github.com\ncheck your internet connection", "failed", False),
        (1, NOT_FOUND, "failed", False),
        (0, "rate limit: an issue title on stdout, and gh succeeded", "ok", False),
    ],
)
def test_the_classifier(code: int, stderr: str, status: str, transient: bool) -> None:
    verdict = GH_CLASSIFIER.classify(code, Captured(), Captured(head=stderr.encode()))
    assert (verdict.status, verdict.transient) == (status, transient)


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (f"{NOT_FOUND} (repository.issue)", "not_found"),
        ("GraphQL: Could not resolve to a PullRequest with the number of 9.", "not_found"),
        ("GraphQL: Could not resolve to a Repository with the name 'a/b'.", "failed"),
        ("gh: Not Found (HTTP 404)", "not_found"),
        ('no pull requests found for branch "x"', "not_found"),
        ("gh: Validation Failed (HTTP 422)", "invalid"),
        ("GraphQL: Body is too long (maximum is 65536 characters) (createIssue)", "invalid"),
        (f"HTTP 502: Bad Gateway {GRAPHQL}", "failed"),
    ],
)
def test_failure_kinds(stderr: str, kind: str) -> None:
    assert kind_of(stderr) == kind


@pytest.mark.parametrize(
    "stderr",
    [
        "X Pull request #3 is not mergeable: the base branch policy prohibits the merge.",
        "GraphQL: Head branch was modified. Review and try the merge again. (mergePullRequest)",
        "GraphQL: Pull Request is not mergeable (mergePullRequest)",
        "GraphQL: At least 1 approving review is required by reviewers with write access.",
    ],
)
def test_merge_refusals_are_conflicts(stderr: str) -> None:
    assert kind_of(stderr, MERGE_RULES) == "conflict"


def _review(
    login: str, state: str, body: str = "", at: str = "2025-01-01T00:00:00Z"
) -> dict[str, object]:
    return {"author": {"login": login}, "state": state, "body": body, "submittedAt": at}


def test_review_verdicts() -> None:
    assert verdict_of(_review("a", "APPROVED")) == "approve"
    assert verdict_of(_review("a", "CHANGES_REQUESTED", review_body("x", "approve"))) == "veto"
    assert verdict_of(_review("a", "COMMENTED", review_body("no", "veto"))) == "veto"
    assert verdict_of(_review("a", "COMMENTED", review_body("", "comment"))) is None
    assert verdict_of(_review("a", "DISMISSED", review_body("no", "veto"))) is None
    assert verdict_of(_review("a", "PENDING")) is None


def test_the_latest_verdict_of_each_reviewer_counts() -> None:
    t = [f"2025-01-01T00:00:0{n}Z" for n in range(4)]
    veto, approve = review_body("no", "veto"), review_body("ok", "approve")
    assert blocking_reviewers([_review("hydra", "COMMENTED", veto, t[0])]) == ["hydra"]
    later_approval = [
        _review("hydra", "COMMENTED", approve, t[1]),
        _review("hydra", "COMMENTED", veto, t[0]),
    ]
    assert blocking_reviewers(later_approval) == []
    two_reviewers = [
        _review("mona", "CHANGES_REQUESTED", at=t[0]),
        _review("hydra", "APPROVED", at=t[1]),
    ]
    assert blocking_reviewers(two_reviewers) == ["mona"]


def test_review_bodies_are_never_blank() -> None:
    assert review_body("", "comment") == "<!-- hydra:verdict=comment -->\n"
    assert review_body("LGTM  \n", "approve") == "LGTM\n\n<!-- hydra:verdict=approve -->\n"


# ---------------------------------------------------------------------- the fake's jq
SAMPLES = {
    EACH_JQ: [{"number": 1, "title": "<b>&"}, {"number": 2, "title": "é"}],
    ISSUE_THEN_COMMENTS_JQ: {"number": 3, "comments": [{"body": "a"}, {"body": "b"}]},
    PR_THEN_REVIEWS_JQ: {"state": "OPEN", "reviews": []},
    FILES_JQ: [{"filename": "a", "status": "added", "additions": 1, "deletions": 0, "patch": "@@"}],
}


@pytest.fixture
def real_jq() -> str:
    return real_tool("jq")


@pytest.mark.parametrize("program", sorted(SAMPLES))
def test_the_fake_s_jq_agrees_with_jq(real_jq: str, program: str) -> None:
    data = json.dumps(SAMPLES[program])
    done = subprocess.run(
        [real_jq, "-c", program], input=data, capture_output=True, text=True, check=True
    )
    assert [json.loads(line) for line in done.stdout.splitlines()] == jq(program, SAMPLES[program])
