"""Secret redaction for log lines and audit payloads.

Three nets, applied recursively to mappings, sequences and strings:

1. keys that name a secret (``token``, ``api_key``, ``authorization``…) have their value replaced;
2. strings are scanned for well-known credential formats (Anthropic / OpenAI keys, GitHub tokens,
   AWS access keys, Slack tokens, bearer headers, PEM private keys);
3. exact secret values registered at run time (the API token, configured keys) are replaced
   wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[REDACTED]"

SECRET_KEY_RE = re.compile(
    r"(?i)(^|[_\-.])(token|secret|password|passwd|api[_\-]?key|apikey|authorization|auth"
    r"|cookie|credentials?|private[_\-]?key|access[_\-]?key|session[_\-]?key)($|[_\-.])"
)

SECRET_VALUE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"xox[abprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
)

_MIN_EXACT_LEN = 8
_MEMO_MAX = 1024
_MEMO_MAX_LEN = 4096


def secrets_in_env(names: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """Values of the variables among ``names`` whose name says they are secret (``*TOKEN*``,
    ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``): the keys the daemon hands to its children, to be
    registered as exact secrets. ``GH_HOST`` and the like are not secrets and stay readable."""
    return [
        value
        for name in sorted(set(names))
        if SECRET_KEY_RE.search(name.lower()) and (value := environ.get(name))
    ]


class Redactor:
    """Replaces secrets in arbitrary JSON-like values. Cheap to call on every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        self._exact_re: re.Pattern[str] | None = None
        self._memo: dict[str, str] = {}
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Register exact values to mask (values shorter than 8 characters are ignored)."""
        fresh = {s for s in secrets if s and len(s) >= _MIN_EXACT_LEN}
        if not fresh - self._exact:
            return
        self._exact |= fresh
        alternatives = sorted(self._exact, key=len, reverse=True)
        self._exact_re = re.compile("|".join(re.escape(s) for s in alternatives))
        self._memo.clear()

    def __call__(self, value: Any) -> Any:
        return self.redact(value)

    def redact(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {k: self._redact_item(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value

    def _redact_item(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and SECRET_KEY_RE.search(key) and _is_secret_scalar(value):
            return MASK
        return self.redact(value)

    def redact_text(self, text: str) -> str:
        if self._exact_re is not None:
            text = self._exact_re.sub(MASK, text)
        for pattern in SECRET_VALUE_PATTERNS:
            text = pattern.sub(MASK, text)
        return text

    def redact_text_cached(self, text: str) -> str:
        """:meth:`redact_text`, memoised: for the few free-text fields the API serves on every
        poll (a loop's last error or summary), which change at most once per tick. A dict
        lookup instead of nine regex scans; bounded (emptied when full, and whenever a secret
        is added); texts longer than 4 KiB are redacted afresh each time, never kept."""
        done = self._memo.get(text)
        if done is None:
            done = self.redact_text(text)
            if len(text) <= _MEMO_MAX_LEN:
                if len(self._memo) >= _MEMO_MAX:
                    self._memo.clear()
                self._memo[text] = done
        return done


def _is_secret_scalar(value: Any) -> bool:
    # Keys like "token_count" or "auth" with a number/bool/None value carry no secret.
    return isinstance(value, str | bytes) and bool(value)
