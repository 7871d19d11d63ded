"""The running cost of one agent run, fed event by event as the CLI streams.

`StreamMeter` keeps the tokens and dollars seen so far and says when they pass the run's cap.
Each provider's session charges what its events report (`StreamMeter.charge`) and, when the
CLI's final figures arrive, replaces the estimate with them (`StreamMeter.settle`).

Events that repeat a message's usage (``claude`` emits one ``assistant`` event per content
block, each carrying the whole message's usage, and may update it) are charged under the
message id: the meter keeps the largest usage seen per id and charges only the difference.

`ContextEstimator` serves CLIs that report tokens only once, at the end (``codex exec``): it
turns what the stream shows (the prompt, each reply's text, each tool's output) into the
tokens of the model requests the CLI made, assuming each request resends the whole
conversation, the part already sent before is a prompt-cache hit and the rest is new input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hydra.adapters._agent_prices import Price, PriceTable
from hydra.runner import Usage

__all__ = ["ContextEstimator", "StreamMeter", "TokenUsage"]

_PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one model request (or a sum of them), split the way they are billed."""

    input: int = 0
    """Uncached input tokens."""
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0

    @property
    def prompt(self) -> int:
        """Every input token, cached or not."""
        return self.input + self.cache_write + self.cache_read

    def cost(self, price: Price) -> float:
        return (
            self.input * price.input
            + self.output * price.output
            + self.cache_write * price.cache_write
            + self.cache_read * price.cache_read
        ) / _PER_MILLION

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input + other.input,
            self.output + other.output,
            self.cache_write + other.cache_write,
            self.cache_read + other.cache_read,
        )

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input - other.input,
            self.output - other.output,
            self.cache_write - other.cache_write,
            self.cache_read - other.cache_read,
        )

    def widest(self, other: TokenUsage) -> TokenUsage:
        """Field-wise maximum (a message's usage only grows while it streams)."""
        return TokenUsage(
            max(self.input, other.input),
            max(self.output, other.output),
            max(self.cache_write, other.cache_write),
            max(self.cache_read, other.cache_read),
        )


_NONE = TokenUsage()


class StreamMeter:
    """Tokens and USD of one run so far, against an optional cap (``cap_usd``)."""

    def __init__(self, prices: PriceTable, *, cap_usd: float | None, model: str | None) -> None:
        self._prices = prices
        self.cap_usd = cap_usd
        self.model = model
        self.tokens = _NONE
        self.usd = 0.0
        self.events = 0
        """Events that added cost."""
        self.max_event_usd = 0.0
        """The most one event added: the bound on how far a stop can land past the cap."""
        self.settled = False
        """The CLI's own final figures replaced the estimate."""
        self.unpriced: set[str] = set()
        """Models charged at the table's conservative default (``"?"`` when none was named)."""
        self._by_key: dict[str, tuple[TokenUsage, float]] = {}

    @property
    def over_cap(self) -> bool:
        return self.cap_usd is not None and self.usd > self.cap_usd

    def price(self, model: str | None) -> Price:
        price, known = self._prices.lookup(model)
        if not known:
            self.unpriced.add(model or "?")
        return price

    def charge(
        self, usage: TokenUsage, *, key: str | None = None, model: str | None = None
    ) -> float:
        """Add one event's usage (priced for ``model``, else the run's); returns the USD added.

        With ``key``, the usage is that message's total so far: only growth is charged.
        """
        price = self.price(model or self.model)
        before, before_usd = self._by_key.get(key, (_NONE, 0.0)) if key else (_NONE, 0.0)
        total = before.widest(usage)
        total_usd = total.cost(price)
        if key:
            self._by_key[key] = (total, total_usd)
        added = total_usd - before_usd
        self.tokens = self.tokens + (total - before)
        self._add_usd(added)
        return added

    def settle(self, usage: TokenUsage, *, usd: float | None = None) -> None:
        """Replace the estimate with the CLI's final totals (``usd`` ``None``: price them)."""
        final_usd = usage.cost(self.price(self.model)) if usd is None else usd
        self.tokens = usage
        self._add_usd(final_usd - self.usd)
        self.settled = True

    def runner_usage(self) -> Usage:
        """What the runner records in the cost ledger for this run."""
        return Usage(self.tokens.prompt, self.tokens.output, self.usd, self.model)

    def _add_usd(self, added: float) -> None:
        self.usd += added
        if added > 0:
            self.events += 1
            self.max_event_usd = max(self.max_event_usd, added)


class ContextEstimator:
    """Estimated tokens of the model requests behind a stream that reports none until the end.

    Text is turned into tokens at ``chars_per_token`` (3: on the high side for English and
    code, so the estimate leans towards stopping early). ``base_tokens`` stands for what the
    CLI adds to every request and the stream never shows (system prompt, tool definitions).
    """

    def __init__(self, *, base_tokens: int, chars_per_token: float = 3.0) -> None:
        self._per_token = chars_per_token
        self._context = 0
        self._cached = 0
        self._pending = base_tokens

    def tokens(self, chars: int) -> int:
        return math.ceil(max(chars, 0) / self._per_token)

    def add_input(self, chars: int) -> None:
        """Text the next request will carry as new input (the prompt, a tool's output)."""
        self._pending += self.tokens(chars)

    def reply(self, chars: int) -> TokenUsage:
        """More output of the request about to be counted (a reasoning summary)."""
        out = self.tokens(chars)
        self._context += out
        return TokenUsage(output=out)

    def request(self, *, output_chars: int) -> TokenUsage:
        """One model request that replied with ``output_chars`` of text."""
        sent = self._context + self._pending
        reply = self.tokens(output_chars)
        usage = TokenUsage(input=sent - self._cached, output=reply, cache_read=self._cached)
        self._cached = sent
        self._context = sent + reply
        self._pending = 0
        return usage
