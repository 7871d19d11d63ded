"""Common credential formats, found in text and redacted from it.

Findings name the kind of credential and where it is (``path:line``), never the matched text:
a secret found by the audit must not be copied into an audit stream, a log line or an issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["SECRET_KINDS", "SecretHit", "find_secrets", "looks_binary", "redact"]

_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,251}\b")),
    ("github-fine-grained-token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}")),
    ("anthropic-api-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    (
        "openai-api-key",
        re.compile(r"\bsk-(?!ant-)(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{40,})"),
    ),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("private-key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("stripe-secret-key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{24,}\b")),
)
SECRET_KINDS: Final = tuple(kind for kind, _ in _PATTERNS)
_PLACEHOLDER: Final = "EXAMPLE"
"""Documentation placeholders (``AKIAIOSFODNN7EXAMPLE``) are not secrets."""
_BINARY_PROBE: Final = 8_192


@dataclass(frozen=True)
class SecretHit:
    kind: str
    line: int
    """1-based line of the match."""


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` looks like a binary file (a NUL byte near its start, as git decides)."""
    return b"\0" in data[:_BINARY_PROBE]


def find_secrets(text: str) -> list[SecretHit]:
    """Every credential-shaped match in ``text``, in order of position (one per match)."""
    hits: list[tuple[int, str]] = []
    for kind, pattern in _PATTERNS:
        hits.extend(
            (match.start(), kind)
            for match in pattern.finditer(text)
            if _PLACEHOLDER not in match.group(0)
        )
    hits.sort()
    return [SecretHit(kind, text.count("\n", 0, start) + 1) for start, kind in hits]


def redact(text: str) -> str:
    """``text`` with every credential-shaped match replaced by ``[redacted <kind>]``."""
    for kind, pattern in _PATTERNS:
        text = pattern.sub(f"[redacted {kind}]", text)
    return text
