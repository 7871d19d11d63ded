"""The ``principles_audit`` loop on a MockWorld: rules, onboarding, stuck issues, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes import MockWorld, SandboxOutcome
from loops.principles_audit import PrinciplesAuditLoop
from ports import PortError
from tests.helpers.harness import Harness, running
from tests.loops._support_sandbox import (
    ScrambledSandbox,
    last_result,
    payloads,
    started,
    tick,
    with_sandbox,
)

pytestmark = pytest.mark.anyio

LOOP = "principles_audit"
LABEL = "principles-stuck"
GOOD: dict[str, str | bytes] = {
    "README.md": "# demo\n",
    "LICENSE": "MIT License\n",
    "tests/test_app.py": "def test_ok():\n    assert True\n",
    ".github/workflows/ci.yml": "on: push\n",
    "pyproject.toml": "[project]\nname = 'demo'\n\n[tool.ruff]\nline-length = 100\n",
    "src/app.py": "print('hello')\n",
}
AWS_KEY = "AKIA" + "Q3EGRZ7XN4VB2KTY"


def world(files: dict[str, str | bytes] | None = None, *repos: str) -> MockWorld:
    names = repos or ("demo",)
    return MockWorld(repos={name: dict(GOOD if files is None else files) for name in names})


def state_of(tmp_path: Path, repo: str = "demo") -> dict[str, Any]:
    data = orjson.loads((tmp_path / "state" / "loops" / f"{LOOP}.json").read_bytes())
    return data[f"repo:{repo}"]


def rule_result(h: Harness, repo: str = "demo") -> dict[str, Any]:
    return last_result(h, LOOP)["details"]["repos"][repo]


def stuck_issues(mock: MockWorld, repo: str | None = None) -> list[Any]:
    return [i for i in mock.issues(repo).all_issues() if LABEL in i.labels]


# ---------------------------------------------------------------------- rules and onboarding
async def test_a_healthy_repository_becomes_ready(tmp_path: Path) -> None:
    mock = world()
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "ok"
    assert result["counts"]["ready"] == 1
    assert result["counts"]["rules_passed"] == 7
    assert result["counts"]["rules_failed"] == 0
    assert rule_result(h) == {
        "status": "ready",
        "passed": 7,
        "failed": [],
        "errored": [],
        "blocking": [],
    }
    changed = payloads(h, LOOP, "rule.changed")
    assert [(p["rule"], p["from"], p["to"]) for p in changed] == [
        (rule, None, "passed")
        for rule in ("readme", "license", "tests", "ci", "lint", "secrets", "file_size")
    ]
    assert payloads(h, LOOP, "onboarding.changed") == [
        {"repo": "demo", "from": "pending", "to": "ready"}
    ]
    assert state_of(tmp_path)["status"] == "ready"
    assert await mock.workspace().list_worktrees() == []  # the audit checkout is gone
    run = started_run(h)
    assert mock.workspace().branch_head(f"hydra/principles/{run}") is None  # and its branch


def started_run(h: Harness) -> str:
    return str(h.records(LOOP, "tick.started")[-1]["run"])


@pytest.mark.parametrize(
    ("rule", "change", "blocking"),
    [
        ("readme", {"README.md": None}, True),
        ("license", {"LICENSE": None}, False),
        ("tests", {"tests/test_app.py": None}, True),
        ("ci", {".github/workflows/ci.yml": None}, True),
        ("lint", {"pyproject.toml": "[project]\nname = 'demo'\n"}, False),
        ("secrets", {"config/settings.py": f"KEY = '{AWS_KEY}'\n"}, True),
        ("file_size", {"data/blob.bin": b"\1" * 2048}, True),
    ],
)
async def test_each_builtin_rule_fails_on_its_own(
    tmp_path: Path, rule: str, change: dict[str, Any], blocking: bool
) -> None:
    mock = world()
    mock.seed_files(change)
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"max_file_bytes": 1024}) as h:
        report = rule_result(h)
    assert report["failed"] == [rule]
    assert report["blocking"] == ([rule] if blocking else [])
    assert report["status"] == ("blocked" if blocking else "ready")
    assert last_result(h, LOOP)["status"] == "warning"


@pytest.mark.parametrize(
    "files",
    [
        {"readme.rst": "x", "COPYING": "GPL", "spec/a_spec.rb": "x", ".gitlab-ci.yml": "x"},
        {"README": "x", "LICENSE-MIT": "x", "pkg/__tests__/a.js": "x", ".ci/run.sh": "x"},
        {"README.txt": "x", "LICENCE.md": "x", "test/a.go": "x", "Jenkinsfile": "x"},
    ],
)
@pytest.mark.parametrize(
    "lint",
    [
        {".eslintrc.json": "{}"},
        {"setup.cfg": "[flake8]\nmax-line-length = 100\n"},
        {"package.json": '{"eslintConfig": {}}'},
        {"src/.golangci.yml": "linters: {}"},
        {"pyproject.toml": "[tool.pylint.main]\n"},
    ],
)
async def test_other_layouts_pass_the_builtin_rules(
    tmp_path: Path, files: dict[str, str], lint: dict[str, str]
) -> None:
    mock = world({**files, **lint})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert rule_result(h)["failed"] == []


async def test_severity_overrides_and_disabled_rules(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k not in ("LICENSE", "README.md")})
    options = {"severities": {"readme": "warning"}, "disabled_rules": ["license"]}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        report = rule_result(h)
    assert report["failed"] == ["readme"]
    assert report["status"] == "ready"
    assert report["passed"] == 5  # license is not audited at all


async def test_onboarding_transitions_are_recorded_and_persisted(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "tests/test_app.py"})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert rule_result(h)["status"] == "blocked"
        mock.seed_files({"tests/test_app.py": "def test(): pass\n"})
        await tick(h, LOOP)
        assert rule_result(h)["status"] == "ready"
        assert state_of(tmp_path)["status"] == "ready"
        mock.seed_files({"tests/test_app.py": None})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert rule_result(h)["status"] == "blocked"
    transitions = [(p["from"], p["to"]) for p in payloads(h, LOOP, "onboarding.changed")]
    assert transitions == [("pending", "blocked"), ("blocked", "ready"), ("ready", "blocked")]
    tests_changes = [
        (p["from"], p["to"]) for p in payloads(h, LOOP, "rule.changed") if p["rule"] == "tests"
    ]
    assert tests_changes == [(None, "failed"), ("failed", "passed"), ("passed", "failed")]


async def test_a_rule_that_cannot_be_checked_changes_neither_status_nor_count(
    tmp_path: Path,
) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert state_of(tmp_path)["failures"]["readme"] == 1
        # the lint rule reads pyproject.toml, the secrets rule reads everything: both error
        mock.workspace().faults.inject("read_file", PortError("failed", "disk"), times=100)
        await tick(h, LOOP)
        mock.workspace().faults.clear()
        report = rule_result(h)
    assert report["errored"] == ["lint", "secrets"]
    assert report["status"] == "blocked"  # readme still fails
    memory = state_of(tmp_path)
    assert memory["failures"]["readme"] == 2
    assert memory["outcomes"]["secrets"] == "error"
    assert last_result(h, LOOP)["counts"]["rules_errored"] == 2


async def test_a_blocking_rule_that_cannot_be_checked_keeps_the_previous_status(
    tmp_path: Path,
) -> None:
    mock = world()
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert rule_result(h)["status"] == "ready"
        mock.workspace().faults.inject("read_file", PortError("failed", "disk"), times=100)
        await tick(h, LOOP)
        mock.workspace().faults.clear()
    assert rule_result(h)["status"] == "ready"
    assert "secrets" in rule_result(h)["errored"]


# ---------------------------------------------------------------------- secrets
# Built by concatenation so that no literal in this file looks like a credential itself.
SECRET_VALUES = {
    "aws.txt": AWS_KEY,
    "gh.env": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "pat.env": "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
    "claude.sh": "sk-ant-" + "api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
    "openai.py": "sk-proj-" + "A" * 20 + "b" * 20 + "9" * 8,
    "slack.json": "xoxb-" + "1234567890-abcdefghij",
    "deploy/id_rsa": "MIIEowIBAAKCAQEA7s3cr3tb0dyOfTh3K3y",
}
SECRETS = {
    "aws.txt": f"aws_access_key_id = {SECRET_VALUES['aws.txt']}\n",
    "gh.env": f"TOKEN={SECRET_VALUES['gh.env']}\n",
    "pat.env": f"\n\nGH={SECRET_VALUES['pat.env']}\n",
    "claude.sh": f"export ANTHROPIC_API_KEY={SECRET_VALUES['claude.sh']}\n",
    "openai.py": f"key = '{SECRET_VALUES['openai.py']}'\n",
    "slack.json": '{"token": "' + SECRET_VALUES["slack.json"] + '"}\n',
    "deploy/id_rsa": "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    f"{SECRET_VALUES['deploy/id_rsa']}\n-----END RSA PRIVATE KEY-----\n",
}


async def test_secrets_in_several_formats_are_found_but_never_repeated(tmp_path: Path) -> None:
    mock = world({**GOOD, **SECRETS})
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        assert rule_result(h)["failed"] == ["secrets"]
    [changed] = [p for p in payloads(h, LOOP, "rule.changed") if p["rule"] == "secrets"]
    assert changed["summary"].startswith("7 credential(s) found")
    [issue] = stuck_issues(mock)
    for evidence in (
        "aws.txt:1 (aws-access-key-id)",
        "gh.env:1 (github-token)",
        "pat.env:3 (github-fine-grained-token)",
        "claude.sh:1 (anthropic-api-key)",
        "openai.py:1 (openai-api-key)",
        "slack.json:1 (slack-token)",
        "deploy/id_rsa:1 (private-key)",
    ):
        assert evidence in issue.body
    stream = sorted((tmp_path / "audit" / LOOP).glob("*.jsonl"))
    written = b"".join(path.read_bytes() for path in stream).decode() + issue.body
    for value in SECRET_VALUES.values():
        assert value not in written


async def test_secrets_in_binary_oversized_or_allowed_files_are_not_reported(
    tmp_path: Path,
) -> None:
    mock = world(
        {
            **GOOD,
            "assets/logo.png": b"\x89PNG\0\0" + AWS_KEY.encode(),
            "dump.sql": "x" * 4096 + AWS_KEY,
            "tests/fixtures/keys.txt": AWS_KEY,
            "docs/aws.md": "use a key like AKIAIOSFODNN7EXAMPLE",
        }
    )
    options = {"secret_scan_max_bytes": 2048, "secret_allow_paths": ["tests/fixtures/*"]}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        assert rule_result(h)["failed"] == []
    [changed] = [p for p in payloads(h, LOOP, "rule.changed") if p["rule"] == "secrets"]
    assert changed["summary"] == (
        "no credentials found; 7 text file(s) scanned, 2 binary or oversized skipped"
    )


# ---------------------------------------------------------------------- command rules
async def test_the_test_command_runs_in_the_audit_checkout(tmp_path: Path) -> None:
    mock = world()
    mock.sandbox().script(
        "test_command", SandboxOutcome.failed("FAILED tests/test_app.py", exit_code=1)
    )
    options = {"test_command": "pytest -q", "stuck_after": 1}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        report = rule_result(h)
        [run] = mock.sandbox().runs
        assert run.workdir.startswith(f"{mock.workspace().root}/principles-")
        assert [(s.name, s.command, s.expected_exit) for s in run.scenarios] == [
            ("test_command", "pytest -q", 0)
        ]
        assert report["blocking"] == ["test_command"]
        [issue] = stuck_issues(mock)
        assert "exited 1, expected 0" in issue.body
        assert "FAILED tests/test_app.py" in issue.body  # the output tail reaches the issue
        mock.sandbox().script("test_command", SandboxOutcome.passed())
        await tick(h, LOOP)
    assert rule_result(h)["status"] == "ready"
    assert [i.state for i in stuck_issues(mock)] == ["closed"]


async def test_operator_rules_run_through_the_sandbox(tmp_path: Path) -> None:
    mock = world()
    mock.sandbox().script("changelog", SandboxOutcome.failed(exit_code=3))
    mock.sandbox().script("typing", SandboxOutcome.timed_out())
    mock.sandbox().script("docs", SandboxOutcome.passed())
    rules = [
        {"id": "changelog", "description": "A changelog.", "command": "test -f CHANGES"},
        {
            "id": "typing",
            "description": "Typed.",
            "command": "mypy .",
            "severity": "warning",
            "timeout_s": 5,
        },
        {"id": "docs", "description": "Docs build.", "command": "make docs", "expected_exit": 2},
    ]
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"rules": rules}) as h:
        report = rule_result(h)
    assert report["failed"] == ["changelog", "typing"]
    assert report["blocking"] == ["changelog"]
    summaries = {p["rule"]: p["summary"] for p in payloads(h, LOOP, "rule.changed")}
    assert summaries["changelog"] == "exited 3, expected 0"
    assert summaries["typing"] == "timed out after 5 s"
    assert summaries["docs"] == "exited 2 as expected"
    [run] = mock.sandbox().runs
    assert [s.name for s in run.scenarios] == ["changelog", "typing", "docs"]


def test_operator_rules_are_validated() -> None:
    from pydantic import ValidationError

    from loops.principles_audit import PrinciplesOptions

    rule = {"id": "readme", "description": "x", "command": "true"}
    with pytest.raises(ValidationError, match="not built-in"):
        PrinciplesOptions.model_validate({"rules": [rule]})
    with pytest.raises(ValidationError, match="unknown rule ids"):
        PrinciplesOptions.model_validate({"severities": {"nope": "info"}})
    with pytest.raises(ValidationError, match="comma"):
        PrinciplesOptions.model_validate({"stuck_label": "a,b"})
    with pytest.raises(ValidationError):
        PrinciplesOptions.model_validate({"rules": [{**rule, "id": "Bad Id"}]})


# ---------------------------------------------------------------------- stuck issues
async def test_a_rule_failing_three_audits_in_a_row_files_one_issue(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        await tick(h, LOOP)
        assert stuck_issues(mock) == []
        assert state_of(tmp_path)["failures"]["readme"] == 2
        await tick(h, LOOP)
        [issue] = stuck_issues(mock)
        assert last_result(h, LOOP)["counts"]["issues_filed"] == 1
        await tick(h, LOOP)  # the same finding: no new issue, no comment
        assert last_result(h, LOOP)["counts"]["issues_filed"] == 0
    [issue] = stuck_issues(mock)
    assert issue.title == "Principle `readme` keeps failing in demo"
    assert "<!-- hydra:principles-stuck repo=demo rule=readme -->" in issue.body
    assert "failed 3 consecutive audits" in issue.body
    assert issue.comments == ()
    assert payloads(h, LOOP, "issue.filed") == [
        {"repo": "demo", "rule": "readme", "issue": issue.id, "consecutive_failures": 3}
    ]
    assert state_of(tmp_path)["issues"]["readme"]["id"] == issue.id


async def test_a_changed_finding_updates_the_issue_instead_of_filing_another(
    tmp_path: Path,
) -> None:
    mock = world({**GOOD, "a.env": f"K={AWS_KEY}\n"})
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        [issue] = stuck_issues(mock)
        mock.seed_files({"b.env": f"K={AWS_KEY}\n"})
        await tick(h, LOOP)
        assert last_result(h, LOOP)["counts"]["issues_updated"] == 1
        # the loop's memory of the issue is lost: the marker finds it again
        await h.services.state(LOOP).put("repo:demo", {})
        await tick(h, LOOP)
    [again] = stuck_issues(mock)
    assert again.id == issue.id
    assert len(again.comments) == 2
    assert "b.env:1 (aws-access-key-id)" in again.comments[0].body
    assert [p["issue"] for p in payloads(h, LOOP, "issue.updated")] == [issue.id, issue.id]


async def test_an_issue_closed_by_a_human_is_filed_again_while_the_rule_fails(
    tmp_path: Path,
) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        [first] = stuck_issues(mock)
        await mock.issues().close_issue(first.id)
        await tick(h, LOOP)
    assert [(i.id == first.id, i.state) for i in stuck_issues(mock)] == [
        (True, "closed"),
        (False, "open"),
    ]


async def test_the_issue_is_commented_and_closed_when_the_rule_passes_again(
    tmp_path: Path,
) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        [issue] = stuck_issues(mock)
        mock.seed_files({"README.md": "# back\n"})
        await tick(h, LOOP)
        assert last_result(h, LOOP)["counts"]["issues_closed"] == 1
        await tick(h, LOOP)  # nothing left to close
    closed = mock.issues().issue(issue.id)
    assert closed.state == "closed"
    assert closed.comments[-1].body.startswith("Rule `readme` passes again")
    assert payloads(h, LOOP, "issue.closed") == [
        {"repo": "demo", "rule": "readme", "issue": issue.id, "consecutive_failures": 0}
    ]
    assert state_of(tmp_path)["issues"] == {}
    assert state_of(tmp_path)["failures"]["readme"] == 0


async def test_a_restart_keeps_the_consecutive_failure_counts(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        await tick(h, LOOP)
    assert stuck_issues(mock) == []
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        [issue] = stuck_issues(mock)
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert stuck_issues(mock) == [issue]  # remembered: not filed twice
    assert state_of(tmp_path)["failures"]["readme"] == 4


async def test_a_failing_tracker_is_recorded_and_the_issue_filed_later(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    mock.issues().faults.inject("create_issue", PortError("failed", "tracker down"))
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        assert stuck_issues(mock) == []
        mock.issues().faults.inject("list_issues", PortError("failed", "tracker down"))
        await tick(h, LOOP)
        assert stuck_issues(mock) == []
        await tick(h, LOOP)
    assert len(stuck_issues(mock)) == 1
    failed = payloads(h, LOOP, "issue.failed")
    assert failed == [
        {"repo": "demo", "rule": "readme", "error": "failed: tracker down"},
        {"repo": "demo", "error": "failed: tracker down"},
    ]
    assert state_of(tmp_path)["failures"]["readme"] == 3


async def test_shadow_mode_previews_the_issue_once(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "README.md"})
    options = {"stuck_after": 1, "mode": "shadow"}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        await tick(h, LOOP)
        assert len(h.records(LOOP, "would.create_issue")) == 1
        mock.seed_files({"README.md": "# ok\n"})
        await tick(h, LOOP)
    assert stuck_issues(mock) == []
    assert len(h.records(LOOP, "would.comment")) == 1
    assert len(h.records(LOOP, "would.close_issue")) == 1
    # Nothing was filed or closed: the stream must not say it was.
    assert h.records(LOOP, "issue.filed") == []
    assert h.records(LOOP, "issue.closed") == []
    assert state_of(tmp_path)["issues"] == {}


# ---------------------------------------------------------------------- repositories
async def test_a_switched_off_repository_is_not_audited(tmp_path: Path) -> None:
    mock = world(None, "alpha", "beta")
    async with running(tmp_path, [PrinciplesAuditLoop], world=mock.world, start=False) as h:
        await h.board.update_repo("beta", enabled=False, actor="test", reason="migrating")
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        result = last_result(h, LOOP)
    assert list(result["details"]["repos"]) == ["alpha"]
    assert result["counts"]["repos"] == 1
    assert mock.sandbox("beta").runs == []
    assert {p["repo"] for p in payloads(h, LOOP, "rule.changed")} == {"alpha"}


async def test_a_repository_without_a_checkout_is_reported_and_the_rest_audited(
    tmp_path: Path,
) -> None:
    mock = world(None, "alpha", "beta")
    mock.workspace("alpha").faults.inject("create_worktree", PortError("failed", "no git"))
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "warning"
    assert result["details"]["repos"]["alpha"] == {
        "status": "pending",
        "error": "failed: no git",
    }
    assert result["details"]["repos"]["beta"]["status"] == "ready"
    assert payloads(h, LOOP, "audit.failed") == [{"repo": "alpha", "error": "failed: no git"}]


async def test_every_audit_failing_fails_the_tick_and_leftovers_are_reaped(
    tmp_path: Path,
) -> None:
    mock = world()
    await mock.workspace().create_worktree("principles-old", branch="hydra/principles/old")
    mock.workspace().faults.inject("tracked_files", PortError("failed", "corrupt"))
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        assert last_result(h, LOOP)["status"] == "failed"
        assert await mock.workspace().list_worktrees() == []
        await tick(h, LOOP)
    assert last_result(h, LOOP)["status"] == "ok"


async def test_no_managed_repository_is_idle(tmp_path: Path) -> None:
    mock = MockWorld(repos=())
    async with started(tmp_path, PrinciplesAuditLoop, mock) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "idle"
    assert result["summary"] == "no managed repository"


# ---------------------------------------------------------------------- edges
async def test_an_unusable_sandbox_leaves_command_rules_unchecked(tmp_path: Path) -> None:
    mock = world()
    broken = with_sandbox(mock, ScrambledSandbox(mock.sandbox(), broken=True))
    options = {"test_command": "make test", "stuck_after": 1}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options, world=broken) as h:
        report = rule_result(h)
    assert report["errored"] == ["test_command"]
    assert report["status"] == "pending"  # the blocking rule could not be decided: unchanged
    assert stuck_issues(mock) == []
    [changed] = [p for p in payloads(h, LOOP, "rule.changed") if p["rule"] == "test_command"]
    assert changed["summary"] == "could not be run: sandbox: failed: sandbox image missing"


async def test_a_lost_or_unstartable_command_is_reported(tmp_path: Path) -> None:
    mock = world()
    mock.sandbox().script("build", SandboxOutcome.error())
    rules = [
        {"id": "build", "description": "Builds.", "command": "make"},
        {"id": "bench", "description": "Benchmarks.", "command": "make bench"},
    ]
    lossy = with_sandbox(mock, ScrambledSandbox(mock.sandbox(), drop=["bench"]))
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"rules": rules}, world=lossy) as h:
        report = rule_result(h)
    assert report["failed"] == ["build"]
    assert report["errored"] == ["bench"]
    summaries = {p["rule"]: p["summary"] for p in payloads(h, LOOP, "rule.changed")}
    assert summaries["build"] == "the command could not be started"
    assert summaries["bench"] == "the sandbox returned no result"


async def test_evidence_is_bounded_and_vanished_files_skipped(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {k: v for k, v in GOOD.items() if k != "pyproject.toml"}
    files[".flake8"] = "[flake8]\n"
    files.update({f"data/{n:02}.bin": b"\1" * 64 for n in range(25)})
    mock = world(files)
    mock.workspace().faults.inject("read_file", PortError("not_found", "raced", port="workspace"))
    options = {"max_file_bytes": 32, "stuck_after": 1}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        report = rule_result(h)
    assert report["failed"] == ["file_size"]
    [issue] = stuck_issues(mock)
    assert "… and 5 more" in issue.body
    assert issue.body.count("(64 bytes)") == 20
    [secrets] = [p for p in payloads(h, LOOP, "rule.changed") if p["rule"] == "secrets"]
    assert "30 text file(s) scanned" in secrets["summary"]  # one of 31 vanished mid-audit


async def test_the_issue_of_a_rule_no_longer_audited_is_closed(tmp_path: Path) -> None:
    mock = world({k: v for k, v in GOOD.items() if k != "LICENSE"})
    async with started(tmp_path, PrinciplesAuditLoop, mock, {"stuck_after": 1}) as h:
        [issue] = stuck_issues(mock)
    options = {"stuck_after": 1, "disabled_rules": ["license"]}
    async with started(tmp_path, PrinciplesAuditLoop, mock, options) as h:
        assert last_result(h, LOOP)["counts"]["issues_closed"] == 1
    closed = mock.issues().issue(issue.id)
    assert closed.state == "closed"
    assert "no longer audited" in closed.comments[-1].body
    assert payloads(h, LOOP, "issue.closed") == [
        {"repo": "demo", "rule": "license", "issue": issue.id, "retired": True}
    ]
    assert state_of(tmp_path)["issues"] == {}
