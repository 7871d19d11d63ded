from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable

import anyio
import pytest

from hydra.runner import DEFAULT_ENV_ALLOW, EnvPolicy, Runner, Secret, build_env

PRINT_ENV = [sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"]


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret} {secret!r} {[secret]} { ({'k': secret}) }"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2")


def test_build_env_keeps_only_the_allow_list() -> None:
    environ = {
        "PATH": "/bin",
        "HOME": "/root",
        "LC_ALL": "C",
        "LC_TIME": "C",
        "HYDRA_API_TOKEN": "s3cret",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    env = build_env(EnvPolicy(), {"EXTRA": "1", "TOKEN": Secret("t")}, environ=environ)
    assert env == {
        "PATH": "/bin",
        "HOME": "/root",
        "LC_ALL": "C",
        "LC_TIME": "C",
        "EXTRA": "1",
        "TOKEN": "t",
    }
    assert EnvPolicy().allowing(["HYDRA_API_TOKEN"]).allows("HYDRA_API_TOKEN")
    assert {"PATH", "HOME", "LANG", "TERM", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL"} == set(
        DEFAULT_ENV_ALLOW
    )


@pytest.mark.parametrize(
    ("extras", "error"),
    [
        ({"A=B": "x"}, ValueError),
        ({"": "x"}, ValueError),
        ({"A": "x\0y"}, ValueError),
        ({"A": 1}, TypeError),
        ({"A": b"x"}, TypeError),
    ],
)
def test_build_env_rejects_bad_extras(extras: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        build_env(EnvPolicy(), extras, environ={})  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_planted_secret_does_not_reach_the_child_but_an_extra_does(
    make_runner: Callable[..., Runner], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRA_API_TOKEN", "planted-daemon-secret")
    monkeypatch.setenv("LC_HYDRA_TEST", "locale-ok")
    runner = make_runner()
    with anyio.fail_after(10):
        result = await runner.run(
            PRINT_ENV,
            source="test:env",
            timeout=10,
            env={"GH_TOKEN": Secret("explicit-token"), "PLAIN": "1"},
        )
    assert result.ok
    text = result.stdout.text()
    assert "planted-daemon-secret" not in text
    assert '"GH_TOKEN": "explicit-token"' in text
    assert '"PLAIN": "1"' in text
    assert '"LC_HYDRA_TEST": "locale-ok"' in text
    assert f'"PATH": "{os.environ["PATH"]}"' in text


@pytest.mark.anyio
async def test_configured_variable_is_passed(
    make_runner: Callable[..., Runner], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRA_API_TOKEN", "configured")
    runner = make_runner(env=EnvPolicy().allowing(["HYDRA_API_TOKEN"]))
    with anyio.fail_after(10):
        result = await runner.run(PRINT_ENV, source="test:env", timeout=10)
    assert '"HYDRA_API_TOKEN": "configured"' in result.stdout.text()


@pytest.mark.anyio
async def test_secret_on_the_command_line_is_refused(make_runner: Callable[..., Runner]) -> None:
    runner = make_runner()
    with pytest.raises(TypeError, match="command line"):
        await runner.run(["echo", Secret("x")], source="t", timeout=1)  # type: ignore[list-item]


@pytest.mark.anyio
async def test_secret_goes_through_stdin(make_runner: Callable[..., Runner]) -> None:
    runner = make_runner()
    with anyio.fail_after(10):
        result = await runner.run(["cat"], source="t", timeout=10, stdin=Secret("via-stdin"))
    assert result.stdout.text() == "via-stdin"


def test_secret_pickle_round_trip_keeps_it_a_secret() -> None:
    restored = pickle.loads(pickle.dumps(Secret("v")))  # noqa: S301 - our own bytes
    assert restored == Secret("v")
    assert "v" not in repr(restored).replace("Secret", "")
