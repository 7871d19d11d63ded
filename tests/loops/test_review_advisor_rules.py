"""The review advisor's pure parts: globs, risk table, verdict extraction, policy, guard list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from loops import _review_guard, review_advisor
from loops._globs import matches
from loops._review_text import ANSWER_FORMAT, Decision, diff_paths, policy
from loops._risk import classify
from loops._verdict import MAX_REASONS, find_verdict
from loops.review_advisor import SELF_PATHS, ReviewAdvisorOptions
from ports import ChangedFile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("README.md", "*.md", True),
        ("docs/deep/guide.md", "*.md", True),
        ("src/loops/x.py", "src/loops/**", True),
        ("src/loops/sub/x.py", "src/loops/**", True),
        ("src/loopsy/x.py", "src/loops/**", False),
        ("lib/src/loops/x.py", "src/loops/**", False),
        ("a/b/migrations/0001.py", "**/migrations/**", True),
        ("migrations/0001.py", "**/migrations/**", True),
        ("src/app.py", "src/*.py", True),
        ("src/pkg/app.py", "src/*.py", False),
        ("docs/x.txt", "docs/", True),
        ("tests/loops/test_review_advisor_x.py", "tests/loops/test_review_advisor*.py", True),
        ("config/.env.local", ".env.*", True),
        ("a?b", "a?b", True),
        ("a[b", "a[b", True),
    ],
)
def test_globs(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


def _files(*specs: tuple[str, int]) -> list[ChangedFile]:
    return [ChangedFile(path, "modified", lines, 0) for path, lines in specs]


OPTS = ReviewAdvisorOptions()


@pytest.mark.parametrize(
    ("files", "risk"),
    [
        (_files(("README.md", 3)), "trivial"),
        (_files(("docs/guide.md", 8), ("docs/index.md", 2)), "trivial"),
        (_files(("docs/guide.md", 11)), "low"),  # size
        (_files(("src/app.py", 1)), "low"),  # an unmatched path: default_path_risk
        (_files(("tests/test_app.py", 40)), "low"),
        (_files(("pyproject.toml", 2)), "medium"),
        (_files(("web/package-lock.json", 2)), "medium"),
        (_files(("src/app.py", 300)), "medium"),  # size
        (_files(*((f"src/m{i}.py", 1) for i in range(11))), "medium"),  # number of files
        (_files((".github/workflows/ci.yml", 1)), "high"),
        (_files((".github/PULL_REQUEST_TEMPLATE.md", 1)), "high"),  # first rule wins
        (_files(("db/migrations/0002.py", 5)), "high"),
        (_files(("src/app.py", 1800)), "high"),
        (_files((".env", 1)), "critical"),
        (_files(("deploy/server.pem", 1)), "critical"),
        (_files(("src/app.py", 2001)), "critical"),
        (_files(*((f"m{i}.md", 0) for i in range(101))), "critical"),
    ],
)
def test_risk_classification_table(files: list[ChangedFile], risk: str) -> None:
    assessed = classify(
        files,
        path_risk=OPTS.path_risk,
        default_path_risk=OPTS.default_path_risk,
        lines_up_to=OPTS.lines_up_to,
        files_up_to=OPTS.files_up_to,
    )
    assert assessed.risk == risk, assessed.explain()


def test_risk_rules_come_from_options() -> None:
    opts = ReviewAdvisorOptions.model_validate(
        {
            "path_risk": {"src/payments/**": "critical", "*.py": "trivial"},
            "default_path_risk": "medium",
            "lines_up_to": {"trivial": 1000},
        }
    )
    assessed = classify(
        _files(("src/payments/charge.py", 1), ("src/app.py", 1)),
        path_risk=opts.path_risk,
        default_path_risk=opts.default_path_risk,
        lines_up_to=opts.lines_up_to,
        files_up_to=opts.files_up_to,
    )
    assert assessed.risk == "critical"
    assert assessed.drivers == ("src/payments/charge.py: critical via 'src/payments/**'",)
    other = classify(
        _files(("Makefile", 1)),
        path_risk=opts.path_risk,
        default_path_risk=opts.default_path_risk,
        lines_up_to=opts.lines_up_to,
        files_up_to=opts.files_up_to,
    )
    assert other.risk == "medium"


@pytest.mark.parametrize(
    "bad",
    [
        {"lines_up_to": {"trivial": 50, "low": 10}},
        {"files_up_to": {"critical": 5}},
        {"lines_up_to": {"trivial": -1}},
        {"path_risk": {"docs/**": "scary"}},
        {"auto_approve_below": "huge"},
        {"protected_paths": [""]},
        {"max_diff_bytes": 10},
    ],
)
def test_options_refuse_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReviewAdvisorOptions.model_validate(bad)


@pytest.mark.parametrize(
    ("transcript", "verdict", "reasons"),
    [
        (
            'Looks fine.\n```json\n{"verdict": "approve", "reasons": ["small", "tested"]}\n```',
            "approve",
            ("small", "tested"),
        ),
        ('I would say {"verdict": "veto", "reason": "drops a test"} overall.', "veto", None),
        (
            'First {"verdict": "approve"} then, on reflection,\n'
            '```json\n{"verdict": "veto", "reasons": ["unsafe"]}\n```\nDone.',
            "veto",
            ("unsafe",),
        ),
        ('{"result": {"verdict": "comment", "reasons": ["unsure"]}}', "comment", ("unsure",)),
        ('{"verdict": " APPROVE "}', "approve", ()),
        (
            '{"verdict": "approve"} and {"note": "not a verdict"} {"x": [1, {"y": 2}]}',
            "approve",
            (),
        ),
        ('{"verdict": "approve", "reasons": [{"k": 1}, "", "  two  words "]}', "approve", None),
        ('{"verdict": "approve"} ... {"verdict": "maybe"}', "approve", ()),
        (f"The format was {ANSWER_FORMAT}. I approve.", None, None),
        ("No JSON here at all.", None, None),
        ('```json\n{"verdict": "approve",}\n```', None, None),  # invalid JSON
        ("{'verdict': 'approve'}", None, None),  # not JSON
        ('{"verdict": ["approve"]}', None, None),
        ('{"verdict": "approve"', None, None),  # unterminated
        ("{" * 5_000, None, None),
    ],
)
def test_verdict_extraction_from_messy_transcripts(
    transcript: str, verdict: str | None, reasons: tuple[str, ...] | None
) -> None:
    found = find_verdict(transcript)
    if verdict is None:
        assert found is None
        return
    assert found is not None
    assert found.verdict == verdict
    if reasons is not None:
        assert found.reasons == reasons


def test_verdict_reasons_are_bounded_and_flattened() -> None:
    found = find_verdict('{"verdict": "veto", "reasons": ["a\\nb", ' + '"r", ' * 30 + '"z"]}')
    assert found is not None
    assert found.reasons[0] == "a b"
    assert len(found.reasons) == MAX_REASONS
    odd = find_verdict('{"verdict": "approve", "reasons": [{"k": 1}, "", "  two  words "]}')
    assert odd is not None
    assert odd.reasons == ('{"k": 1}', "two words")


@pytest.mark.parametrize(
    ("verdict", "risk", "auto_merge", "auto", "posted"),
    [
        ("approve", "trivial", False, True, "approve"),
        ("approve", "trivial", True, True, "approve"),
        ("approve", "low", False, False, "comment"),  # never a formal approval for a human
        ("approve", "critical", True, False, "comment"),
        ("veto", "trivial", True, False, "veto"),
        ("comment", "trivial", True, False, "comment"),
    ],
)
def test_policy_gate(verdict: str, risk: str, auto_merge: bool, auto: bool, posted: str) -> None:
    decision = Decision(verdict, "advisor", ())  # type: ignore[arg-type]
    gate = policy(decision, risk=risk, threshold="low", auto_merge=auto_merge)  # type: ignore[arg-type]
    assert (gate.auto, gate.posted) == (auto, posted)


def test_diff_paths_include_old_names_of_renames_and_deletions() -> None:
    patch = (
        "diff --git a/src/loops/_verdict.py b/src/loops/v2.py\n"
        "rename from src/loops/_verdict.py\nrename to src/loops/v2.py\n"
        "diff --git a/old.txt b/old.txt\ndeleted file\n--- a/old.txt\n+++ /dev/null\n"
    )
    assert diff_paths(patch) == {"src/loops/_verdict.py", "src/loops/v2.py", "old.txt"}


def _loop_imports(module: str) -> set[str]:
    """``loops.*`` modules ``module`` imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = ROOT / "src" / Path(*current.split(".")).with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("loops"):
                todo.append(node.module or "")
    return seen


def test_the_guard_covers_the_advisor_and_every_helper_it_imports() -> None:
    modules = _loop_imports("loops.review_advisor")
    assert "loops._verdict" in modules
    for module in modules:
        path = "src/" + module.replace(".", "/") + ".py"
        assert any(matches(path, pattern) for pattern in SELF_PATHS), f"{path} is unguarded"
    judges = (
        "src/hydra/sdk/_loop.py",
        "src/ports/changes.py",
        "pyproject.toml",
        "src/hydra/adapters/_agent_transcript.py",  # finds the answer in the transcript
        "src/hydra/adapters/_agent_meter.py",  # meters the run
        "src/hydra/adapters/agent_claude.py",
        "src/hydra/adapters/local_changes.py",  # diffs, posts the review, merges
        "src/hydra/runner/_classify.py",  # how the agent's run ended
        "src/hydra/loop_services.py",  # remembers which heads were reviewed
        "src/hydra/daemon.py",
        "src/hydra/runtime.py",
        "src/hydra/repo_scopes.py",
        "src/hydra/shadow.py",
    )
    for judge in judges:
        assert (ROOT / judge).exists(), judge
        assert any(matches(judge, pattern) for pattern in SELF_PATHS), f"{judge} is unguarded"
    for pattern in SELF_PATHS:
        concrete = "*" not in pattern
        assert not concrete or (ROOT / pattern).exists(), f"{pattern} names no file"


def test_one_frozen_set_is_the_single_source_of_truth() -> None:
    assert review_advisor.SELF_PATHS is _review_guard.SELF_PATHS
    assert isinstance(SELF_PATHS, frozenset)


def test_this_checkout_is_recognised_as_hydra_s_own_repository() -> None:
    for marker in _review_guard.HYDRA_MARKERS:
        assert (ROOT / marker).is_file(), marker
        # deleting or renaming a marker touches the advisor's own files, so is vetoed
        assert any(matches(marker, pattern) for pattern in SELF_PATHS), marker


def test_self_repos_is_documented_as_an_option() -> None:
    field = ReviewAdvisorOptions.model_fields["self_repos"]
    assert field.default == ()
    assert "Hydra's own source" in (field.description or "")
