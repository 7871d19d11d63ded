"""Auth blips are retried after 5, 10, 20 s of (virtual) time; operator-level failures raise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hydra.runner import AuthFailed, CreditExhausted, FatalRunError, Runner
from tests.runner._support import FakeClock, RecordingSink

pytestmark = pytest.mark.anyio

Scripts = Callable[[str, str], str]


def flaky(scripts: Scripts, tmp_path: Path, failures: int, message: str) -> str:
    """Fails with ``message`` on its first ``failures`` runs, then succeeds."""
    counter = tmp_path / "runs"
    return scripts(
        "flaky.sh",
        f"""\
n=$(cat {counter} 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > {counter}
if [ "$n" -le {failures} ]; then echo "{message}" >&2; exit 1; fi
echo "ok on run $n"
""",
    )


async def test_transient_auth_failure_backs_off_5_10_20_then_raises(
    make_runner: Callable[..., Runner],
    scripts: Scripts,
    tmp_path: Path,
    clock: FakeClock,
    sink: RecordingSink,
) -> None:
    tool = flaky(scripts, tmp_path, failures=99, message="HTTP 401: token expired")
    start = clock.monotonic()
    with anyio.fail_after(10), pytest.raises(AuthFailed) as caught:
        await make_runner().run([tool], source="gh:issues", timeout=10)
    assert clock.sleeps == [5.0, 10.0, 20.0]
    assert clock.monotonic() - start == 35.0
    result = caught.value.result
    assert (result.status, result.attempts) == ("auth_failed", 4)
    assert "transient auth failure" in result.reason
    assert isinstance(caught.value, FatalRunError)
    assert [c.source for c in sink.calls] == ["gh:issues"] * 4  # every attempt is counted


async def test_transient_failure_that_recovers_on_retry_two(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, clock: FakeClock
) -> None:
    tool = flaky(scripts, tmp_path, failures=2, message="authentication temporarily unavailable")
    with anyio.fail_after(10):
        result = await make_runner().run([tool], source="t", timeout=10)
    assert (result.status, result.attempts) == ("ok", 3)
    assert result.stdout.text() == "ok on run 3\n"
    assert clock.sleeps == [5.0, 10.0]


async def test_backoff_schedule_is_configurable(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, clock: FakeClock
) -> None:
    tool = flaky(scripts, tmp_path, failures=99, message="token expired")
    with anyio.fail_after(10), pytest.raises(AuthFailed) as caught:
        await make_runner(auth_backoff_s=(1.0,)).run([tool], source="t", timeout=10)
    assert clock.sleeps == [1.0]
    assert caught.value.result.attempts == 2


async def test_terminal_auth_failure_raises_at_once(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, clock: FakeClock
) -> None:
    tool = flaky(scripts, tmp_path, failures=99, message="Invalid API key · Please run /login")
    with anyio.fail_after(10), pytest.raises(AuthFailed) as caught:
        await make_runner().run([tool], source="t", timeout=10)
    assert clock.sleeps == []
    assert caught.value.result.attempts == 1
    assert "Invalid API key" in str(caught.value.result.stderr.text())


async def test_credit_exhaustion_raises(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, clock: FakeClock
) -> None:
    tool = flaky(scripts, tmp_path, failures=99, message="Credit balance is too low")
    with anyio.fail_after(10), pytest.raises(CreditExhausted) as caught:
        await make_runner().run([tool], source="t", timeout=10)
    assert caught.value.result.status == "credit_exhausted"
    assert clock.sleeps == []
    assert str(caught.value).endswith(
        "credit_exhausted: credit exhausted: 'credit balance is too low'"
    )


async def test_rate_limit_is_returned_not_raised_nor_retried(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, clock: FakeClock
) -> None:
    tool = flaky(scripts, tmp_path, failures=99, message="API rate limit exceeded")
    with anyio.fail_after(10):
        result = await make_runner().run([tool], source="t", timeout=10)
    assert (result.status, result.attempts) == ("rate_limited", 1)
    assert clock.sleeps == []


async def test_usage_sums_over_attempts(
    make_runner: Callable[..., Runner], scripts: Scripts, tmp_path: Path, sink: RecordingSink
) -> None:
    from hydra.runner import RunResult, Usage

    tool = flaky(scripts, tmp_path, failures=1, message="token expired")

    def probe(result: RunResult) -> Usage:
        return Usage(input_tokens=100, output_tokens=1, usd=0.5, model="m")

    with anyio.fail_after(10):
        result = await make_runner().run([tool], source="t", timeout=10, usage_probe=probe)
    assert result.usage == Usage(200, 2, 1.0, "m")
    assert [c.usd for c in sink.calls] == [0.5, 0.5]
