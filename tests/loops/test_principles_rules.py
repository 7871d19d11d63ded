"""The pieces of ``principles_audit``: secret patterns, the rule set, options."""

from __future__ import annotations

import pytest

from loops._principles_options import ruleset
from loops._principles_secrets import find_secrets, looks_binary, redact
from loops.principles_audit import PrinciplesAuditLoop, PrinciplesOptions

# Built by concatenation so that no literal in this file looks like a credential itself.
KEYS = {
    "aws-access-key-id": "ASIA" + "Q3EGRZ7XN4VB2KTY",
    "github-token": "gho_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "github-fine-grained-token": "github_pat_" + "11ABCDEFG0123456789_abcdef",
    "anthropic-api-key": "sk-ant-" + "admin01-Zx9Yw8Vu7Ts6Rq5Po4Nm3",
    "openai-api-key": "sk-" + "T3BlbkFJ" * 6,
    "slack-token": "xoxp-" + "1234567890-0987654321",
    "private-key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
    "google-api-key": "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "stripe-secret-key": "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
}


@pytest.mark.parametrize(("kind", "key"), list(KEYS.items()))
def test_each_credential_format_is_found_and_redacted(kind: str, key: str) -> None:
    text = f"line one\nvalue = '{key}'\n"
    [hit] = find_secrets(text)
    assert (hit.kind, hit.line) == (kind, 2)
    assert key not in redact(text)
    assert f"[redacted {kind}]" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "AKIAIOSFODNN7EXAMPLE",  # the AWS documentation's placeholder
        "pip install sk-learn-compatible-estimators-for-everyone",
        "ghp_short",
        "-----BEGIN PUBLIC KEY-----",
        "sk-ant-short",
    ],
)
def test_lookalikes_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == []


def test_binary_content_is_recognised() -> None:
    assert looks_binary(b"\x89PNG\r\n\x1a\n\0\0")
    assert not looks_binary(b"plain text\n")


def test_the_rule_set_follows_the_options() -> None:
    assert [r.id for r in ruleset(PrinciplesOptions())] == [
        "readme",
        "license",
        "tests",
        "ci",
        "lint",
        "secrets",
        "file_size",
    ]
    opts = PrinciplesOptions.model_validate(
        {
            "test_command": "make test",
            "rules": [{"id": "docs", "description": "Docs.", "command": "make docs"}],
            "severities": {"docs": "critical", "lint": "error"},
            "disabled_rules": ["license"],
        }
    )
    rules = {r.id: r for r in ruleset(opts)}
    assert list(rules) == [
        "readme",
        "tests",
        "ci",
        "lint",
        "secrets",
        "file_size",
        "test_command",
        "docs",
    ]
    assert rules["docs"].severity == "critical"
    assert rules["lint"].severity == "error"
    assert rules["readme"].severity == "error"


def test_loop_metadata_and_options_are_documented() -> None:
    assert PrinciplesAuditLoop.default_mode == "live"
    assert all(f.description for f in PrinciplesOptions.model_fields.values())
    assert "issue.filed" in PrinciplesAuditLoop.audit_actions
