"""How the GitHub adapters fail, against the fake gh's failure modes (gh 2.23's texts).

Authentication: no credentials is terminal (``AuthFailed`` at once); GitHub refusing the
credentials (HTTP 401) is retried after 5, 10 and 20 s of the runner's (fake) clock, then
``AuthFailed``. Rate limits, the network, timeouts and a missing gh are ``PortError`` kinds.
Every gh call is one cost record (per attempt) with a ``gh:<repo>:<operation>`` source.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import ports
from hydra.adapters.gh_issues import GhIssues
from hydra.runner import AuthFailed, Runner, Secret
from ports import PortError
from tests.adapters.gh_fake.rig import Rig, make_rig
from tests.contract.harness import BASE_FILES
from tests.runner._support import RecordingSink

pytestmark = pytest.mark.anyio


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path, files=BASE_FILES)


async def test_not_logged_in_raises_auth_failed_without_retrying(rig: Rig) -> None:
    rig.fake.set_mode("not_logged_in")
    with anyio.fail_after(10), pytest.raises(AuthFailed) as caught:
        await rig.issues().list_issues()
    assert isinstance(caught.value, ports.AuthFailed)
    assert (caught.value.result.status, caught.value.result.attempts) == ("auth_failed", 1)
    assert rig.clock.sleeps == []


@pytest.mark.parametrize("api", [False, True], ids=["porcelain", "gh-api"])
async def test_a_refused_token_is_retried_5_10_20_s_then_auth_failed(rig: Rig, api: bool) -> None:
    rig.fake.set_mode("http_401")
    start = rig.clock.monotonic()
    call = rig.changes().changed_files("1") if api else rig.issues().get_issue("1")
    with anyio.fail_after(10), pytest.raises(AuthFailed) as caught:
        await call
    assert rig.clock.sleeps == [5.0, 10.0, 20.0]
    assert rig.clock.monotonic() - start == 35.0
    assert (caught.value.result.status, caught.value.result.attempts) == ("auth_failed", 4)
    operation = "pr.files" if api else "issue.view"
    assert rig.sources() == [f"gh:acme/app:{operation}"] * 4  # every attempt is a record
    assert len(rig.fake.calls()) == 4


async def test_an_auth_blip_that_clears_on_retry_succeeds(rig: Rig) -> None:
    issue = await rig.issues().create_issue("survives a blip", "body")
    rig.fake.set_mode("http_401", times=2)
    with anyio.fail_after(10):
        got = await rig.issues().get_issue(issue.id)
    assert (got.id, got.title, got.body) == (issue.id, "survives a blip", "body")
    assert rig.clock.sleeps == [5.0, 10.0]


async def test_a_blip_on_gh_api_does_not_mix_the_error_body_into_the_answer(rig: Rig) -> None:
    """gh api prints GitHub's error JSON on stdout; the retried answer must not include it."""
    rig.fake.push_branch("topic", {"new.txt": b"x\n"})
    changes = rig.changes()
    change = await changes.open_change(branch="topic", base="main", title="t")
    rig.fake.set_mode("http_401", times=1)
    with anyio.fail_after(10):
        files = await changes.changed_files(change.id)
    assert [(f.path, f.status) for f in files] == [("new.txt", "added")]
    assert rig.clock.sleeps == [5.0]


@pytest.mark.parametrize("api", [False, True], ids=["porcelain", "gh-api"])
async def test_a_rate_limit_is_rate_limited_at_once(rig: Rig, api: bool) -> None:
    rig.fake.set_mode("rate_limit")
    call = rig.changes().changed_files("1") if api else rig.issues().list_issues()
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await call
    assert caught.value.kind == "rate_limited"
    assert "API rate limit exceeded" in str(caught.value)
    assert rig.clock.sleeps == []


async def test_a_network_failure_is_failed_with_gh_s_words(rig: Rig) -> None:
    rig.fake.set_mode("network")
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await rig.changes().list_open()
    assert caught.value.kind == "failed"
    assert "error connecting to api.github.com" in str(caught.value)


async def test_a_hung_gh_times_out(rig: Rig) -> None:
    rig.fake.set_mode("hang")
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await rig.issues(timeout_s=0.3).list_issues()
    assert caught.value.kind == "timeout"


async def test_without_gh_on_path_the_port_is_unconfigured(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    issues = GhIssues("acme/app", Runner(cost_sink=RecordingSink()), env={"PATH": str(empty)})
    assert issues.info().state == "unconfigured"
    assert "not found on PATH" in issues.info().detail
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await issues.list_issues()
    assert caught.value.kind == "unconfigured"


async def test_every_call_is_a_cost_record_named_after_its_operation(rig: Rig) -> None:
    issues = rig.issues(source="gh:prod")
    with anyio.fail_after(20):
        issue = await issues.create_issue("costed", "body", ["bug"])
        await issues.comment(issue.id, "note")
        await issues.add_label(issue.id, "triaged")
        await issues.close_issue(issue.id)
        await issues.list_issues(state="closed")
    assert rig.sources() == [
        "gh:prod:issue.create",  # refused: label "bug" does not exist yet
        "gh:prod:label.create",
        "gh:prod:issue.create",
        "gh:prod:issue.view",
        "gh:prod:issue.comment",
        "gh:prod:issue.view",
        "gh:prod:issue.edit",
        "gh:prod:label.create",
        "gh:prod:issue.edit",
        "gh:prod:issue.close",
        "gh:prod:issue.list",
    ]
    assert len(rig.sink.calls) == len(rig.fake.calls())
    assert {c.usd for c in rig.sink.calls} == {0.0}


async def test_text_goes_through_stdin_and_secrets_through_the_environment(rig: Rig) -> None:
    token = "ghp_" + "s3cret" * 6
    env = rig.env(GH_TOKEN=Secret(token))
    issues, changes = rig.issues(env=env), rig.changes(env=env)
    secret_body = "line one\n--repo=evil/repo\n" + "x" * 5_000
    with anyio.fail_after(20):
        issue = await issues.create_issue("Stdin", secret_body)
        await issues.comment(issue.id, secret_body)
        rig.fake.push_branch("topic", {"a.txt": b"a\n"})
        change = await changes.open_change(branch="topic", base="main", title="t", body=secret_body)
        await changes.post_review(change.id, "comment", secret_body)
    calls = rig.fake.calls()
    assert all(call["gh_token"] for call in calls)
    for call in calls:
        assert not any(token in arg or "x" * 100 in arg for arg in call["argv"])
    stdins = [call["stdin"] for call in calls if call["stdin"] is not None]
    assert stdins[:2] == [secret_body, secret_body]
    assert secret_body in stdins[2]
    assert stdins[3].startswith(secret_body)
    assert (await issues.get_issue(issue.id)).body == secret_body


async def test_an_unknown_repository_is_a_failure_not_a_missing_item(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    issues = GhIssues("acme/other", rig.runner, env=rig.env())
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await issues.get_issue("1")
    assert caught.value.kind == "failed"
    assert "Could not resolve to a Repository" in str(caught.value)


def test_the_repository_must_be_owner_slash_name() -> None:
    runner = Runner(cost_sink=RecordingSink())
    for bad in ("acme", "acme/app/extra", "", "acme/..", "-x/y z"):
        with pytest.raises(ValueError, match="owner/name"):
            GhIssues(bad, runner)
