"""Model prices for metering agent runs while they stream, in USD per million tokens.

Standard (not batch) API list prices, checked on 2026-11-22:

* Anthropic, from https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing":
  base input, 5-minute cache writes, cache hits, output). Long-context surcharges are not
  modelled; the ``claude`` CLI's own ``total_cost_usd`` replaces the estimate at the end.
* OpenAI, from https://developers.openai.com/api/docs/pricing (input, cached input, output).
  ``codex exec`` reports tokens only, so a codex run's cost is always tokens times this table.

Models are matched by family patterns, first match wins, so dated snapshots and suffixes
(``claude-opus-4-8[1m]``, ``gpt-5.1-codex-max``) find their family. A model no pattern
matches is priced at the provider's conservative default (its most expensive regular tier):
the cost cap then errs towards stopping early, never late, and `PriceTable.lookup` reports
the price as unknown so the run's transcript and log say so. Update this table when the
providers change their prices; tests pin a few rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["ANTHROPIC_PRICES", "OPENAI_PRICES", "Price", "PriceTable"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_write: float = 0.0
    """Writing the prompt cache (Anthropic's 5-minute writes; OpenAI has no such charge)."""
    cache_read: float = 0.0
    """Cache hits (Anthropic) / cached input (OpenAI)."""


class PriceTable:
    """One provider's prices: ``(pattern, price)`` rules tried in order, then ``default``."""

    def __init__(self, rules: Sequence[tuple[str, Price]], default: Price) -> None:
        self._rules = tuple((re.compile(pattern), price) for pattern, price in rules)
        self.default = default

    def lookup(self, model: str | None) -> tuple[Price, bool]:
        """The price of ``model`` and whether the table knows it (``False``: the default)."""
        name = (model or "").lower()
        for pattern, price in self._rules:
            if name and pattern.search(name):
                return price, True
        return self.default, False


_FABLE: Final = Price(input=10.0, output=50.0, cache_write=12.5, cache_read=1.0)

ANTHROPIC_PRICES: Final = PriceTable(
    [
        # Fable / Mythos 5 and 5.1 (5.1 cache hits are $0.25; $1.00 is kept as the bound).
        (r"fable|mythos", _FABLE),
        (r"opus-(?:4-[5-9]|[5-9])", Price(5.0, 25.0, cache_write=6.25, cache_read=0.50)),
        (r"opus", Price(15.0, 75.0, cache_write=18.75, cache_read=1.50)),  # Opus 3, 4, 4.1
        (r"sonnet", Price(3.0, 15.0, cache_write=3.75, cache_read=0.30)),  # 3.7 to 4.6
        (r"haiku-3-5|3-5-haiku", Price(0.80, 4.0, cache_write=1.0, cache_read=0.08)),
        (r"haiku-3|3-haiku", Price(0.25, 1.25, cache_write=0.30, cache_read=0.03)),
        (r"haiku", Price(1.0, 5.0, cache_write=1.25, cache_read=0.10)),  # Haiku 4.5
    ],
    default=_FABLE,
)
"""Claude models; an unknown one is priced as Fable, the most expensive listed tier."""

_GPT_5_5: Final = Price(input=5.0, output=30.0, cache_read=0.50)

OPENAI_PRICES: Final = PriceTable(
    [
        # gpt-5-pro's price; later -pro models may cost more: configure a known model.
        (r"-pro(?![a-z])", Price(15.0, 120.0, cache_read=15.0)),
        (r"gpt-5\.[5-9](?!\d)", _GPT_5_5),  # gpt-5.5, gpt-5.6-sol / -terra / -luna
        (r"gpt-5\.4-nano", Price(0.20, 1.25, cache_read=0.02)),
        (r"gpt-5\.4-mini", Price(0.75, 4.50, cache_read=0.075)),
        (r"gpt-5\.4(?!\d)", Price(2.50, 15.0, cache_read=0.25)),
        (r"gpt-5\.[23](?!\d)", Price(1.75, 14.0, cache_read=0.175)),  # 5.2, 5.3(-codex)
        (r"gpt-5(?:\.1)?(?:-codex)?-mini", Price(0.25, 2.0, cache_read=0.025)),
        (r"gpt-5-nano", Price(0.05, 0.40, cache_read=0.005)),
        (r"gpt-5(?:\.1)?(?![\d.])", Price(1.25, 10.0, cache_read=0.125)),  # 5, 5.1, -codex(-max)
        (r"codex-mini", Price(1.50, 6.0, cache_read=0.375)),
        (r"o4-mini", Price(1.10, 4.40, cache_read=0.275)),
        (r"(?<![a-z])o3(?!\d)", Price(2.0, 8.0, cache_read=0.50)),
        (r"gpt-4\.1", Price(2.0, 8.0, cache_read=0.50)),
    ],
    default=_GPT_5_5,
)
"""OpenAI models; an unknown one is priced as gpt-5.5, the most expensive regular tier."""
