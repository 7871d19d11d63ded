from __future__ import annotations

import io
import json
import logging

from hydra.logs import configure_logging, get_logger
from hydra.redact import MASK, Redactor, secrets_in_env

PLANTED = {
    "anthropic": "sk-ant-api03-" + "A" * 40,
    "openai": "sk-proj-" + "b" * 40,
    "github": "ghp_" + "C" * 36,
    "github_pat": "github_pat_" + "D" * 40,
    "aws": "AKIA" + "E" * 16,
}


def test_known_formats_are_masked_inside_text() -> None:
    redactor = Redactor()
    for secret in PLANTED.values():
        text = f"calling with {secret} now"
        assert secret not in redactor.redact_text(text)
        assert MASK in redactor.redact_text(text)


def test_secret_keys_and_bearer_headers_are_masked() -> None:
    redactor = Redactor()
    out = redactor.redact(
        {
            "api_key": "x" * 12,
            "Authorization": "Bearer abcdefghijkl",
            "nested": [{"password": "hunter2hunter2"}],
            "token_count": 42,
            "note": "header was Bearer abcdefghijklmnop",
        }
    )
    assert out["api_key"] == MASK
    assert out["Authorization"] == MASK
    assert out["nested"][0]["password"] == MASK
    assert out["token_count"] == 42
    assert "abcdefghijklmnop" not in out["note"]


def test_exact_registered_secrets_are_masked_anywhere() -> None:
    redactor = Redactor(["my-very-own-token-123"])
    assert redactor.redact({"msg": "tok=my-very-own-token-123;"}) == {"msg": f"tok={MASK};"}


def test_log_lines_never_contain_planted_secrets() -> None:
    out = io.StringIO()
    token = "daemon-api-token-XYZ-123456"
    configure_logging(Redactor([token]), fmt="json", stream=out)
    log = get_logger("test")
    log.info(
        "calling",
        key=PLANTED["anthropic"],
        url=f"http://x/?t={token}",
        headers={"authorization": "Bearer qwertyuiopasdf"},
    )
    logging.getLogger("uvicorn.error").warning("stdlib line with %s", PLANTED["github"])
    text = out.getvalue()
    for secret in [*PLANTED.values(), token, "qwertyuiopasdf"]:
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["event"] == "calling"
    assert MASK in lines[1]["event"]


def test_secret_values_handed_to_children_are_taken_from_the_environment() -> None:
    environ = {
        "GH_TOKEN": "gh-token-value-1",
        "GH_HOST": "github.example",
        "GH_CONFIG_DIR": "/home/op/.config/gh",
        "ANTHROPIC_API_KEY": "anthropic-value-1",
        "CODEX_API_KEY": "",
    }
    names = ["GH_TOKEN", "GH_HOST", "GH_CONFIG_DIR", "ANTHROPIC_API_KEY", "CODEX_API_KEY"]
    assert secrets_in_env(names, environ) == ["anthropic-value-1", "gh-token-value-1"]


def test_the_memoised_text_redaction_forgets_when_a_secret_is_added() -> None:
    redactor = Redactor()
    text = f"failed with {PLANTED['anthropic']} for plain-secret-value-42"
    assert redactor.redact_text_cached(text) == f"failed with {MASK} for plain-secret-value-42"
    assert redactor.redact_text_cached(text) == redactor.redact_text(text)
    redactor.add_secrets(["plain-secret-value-42"])  # registered later: the memo is stale
    assert redactor.redact_text_cached(text) == f"failed with {MASK} for {MASK}"
    long = "x" * 10_000 + PLANTED["github"]
    assert redactor.redact_text_cached(long) == "x" * 10_000 + MASK
    for n in range(3000):  # bounded: it empties itself rather than growing
        assert redactor.redact_text_cached(f"line {n}") == f"line {n}"
    assert len(redactor._memo) <= 1024
