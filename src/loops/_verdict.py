"""Finding a reviewer's JSON verdict inside a free-form agent transcript.

Agents answer in prose. The review prompt asks for one JSON object with a ``verdict`` key,
and this module finds it wherever it ended up: in a fenced ```` ```json ```` block, bare in
the middle of a sentence, or wrapped in another object. The rule is simple enough to state in
the prompt: **the last valid JSON object that carries a known verdict wins.** Anything else
(invalid JSON, an unknown verdict, no object at all) is ignored, and no object at all means
the answer is unparseable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ports import Verdict

__all__ = ["MAX_REASONS", "MAX_SCAN_CHARS", "ParsedVerdict", "find_verdict"]

_VERDICTS: Final[Mapping[str, Verdict]] = {
    "approve": "approve",
    "veto": "veto",
    "comment": "comment",
}
MAX_SCAN_CHARS: Final = 65_536
"""Only the tail of a longer transcript is searched (the answer comes last)."""
MAX_REASONS: Final = 10
MAX_REASON_CHARS: Final = 500

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ParsedVerdict:
    verdict: Verdict
    reasons: tuple[str, ...]


def find_verdict(transcript: str) -> ParsedVerdict | None:
    """The last valid ``{"verdict": ...}`` object in ``transcript``, or ``None``."""
    found: ParsedVerdict | None = None
    for obj in _objects(transcript[-MAX_SCAN_CHARS:]):
        parsed = _parse(obj)
        if parsed is not None:
            found = parsed
    return found


def _objects(text: str) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in ``text``, in order; objects nested in one without a verdict too."""
    index = text.find("{")
    while index != -1:
        try:
            value, end = _DECODER.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            yield value
            if "verdict" in value:
                # A verdict object is one answer: do not look for others inside it.
                index = text.find("{", end)
                continue
        index = text.find("{", index + 1)


def _parse(obj: Mapping[str, Any]) -> ParsedVerdict | None:
    raw = obj.get("verdict")
    verdict = _VERDICTS.get(raw.strip().lower()) if isinstance(raw, str) else None
    if verdict is None:
        return None
    return ParsedVerdict(verdict=verdict, reasons=_reasons(obj))


def _reasons(obj: Mapping[str, Any]) -> tuple[str, ...]:
    raw = obj.get("reasons", obj.get("reason", ()))
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    reasons = []
    for item in items[:MAX_REASONS]:
        text = item if isinstance(item, str) else json.dumps(item)
        text = " ".join(text.split())
        if text:
            reasons.append(text[:MAX_REASON_CHARS])
    return tuple(reasons)
