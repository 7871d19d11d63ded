"""The agent cost meter: the price tables, per-message charging, settling, the estimator."""

from __future__ import annotations

import pytest

from hydra.adapters._agent_meter import ContextEstimator, StreamMeter, TokenUsage
from hydra.adapters._agent_prices import ANTHROPIC_PRICES, OPENAI_PRICES, Price


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("claude-opus-4-8[1m]", Price(5.0, 25.0, 6.25, 0.50)),
        ("claude-opus-4-5-20251101", Price(5.0, 25.0, 6.25, 0.50)),
        ("claude-opus-4-1-20250805", Price(15.0, 75.0, 18.75, 1.50)),
        ("claude-sonnet-4-5-20250929", Price(3.0, 15.0, 3.75, 0.30)),
        ("claude-haiku-4-5", Price(1.0, 5.0, 1.25, 0.10)),
        ("claude-3-5-haiku-20241022", Price(0.80, 4.0, 1.0, 0.08)),
        ("claude-fable-5", Price(10.0, 50.0, 12.5, 1.0)),
    ],
)
def test_anthropic_rows(model: str, price: Price) -> None:
    assert ANTHROPIC_PRICES.lookup(model) == (price, True)


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-5.1-codex", Price(1.25, 10.0, cache_read=0.125)),
        ("gpt-5-codex", Price(1.25, 10.0, cache_read=0.125)),
        ("gpt-5.1-codex-max", Price(1.25, 10.0, cache_read=0.125)),
        ("gpt-5.1-codex-mini", Price(0.25, 2.0, cache_read=0.025)),
        ("gpt-5.3-codex", Price(1.75, 14.0, cache_read=0.175)),
        ("gpt-5.4-mini", Price(0.75, 4.50, cache_read=0.075)),
        ("gpt-5.5", Price(5.0, 30.0, cache_read=0.50)),
        ("o3", Price(2.0, 8.0, cache_read=0.50)),
    ],
)
def test_openai_rows(model: str, price: Price) -> None:
    assert OPENAI_PRICES.lookup(model) == (price, True)


@pytest.mark.parametrize("model", [None, "", "gpt-5.10", "gpt-7", "o5-ultra"])
def test_unknown_openai_models_get_the_most_expensive_regular_tier(model: str | None) -> None:
    price, known = OPENAI_PRICES.lookup(model)
    assert not known
    assert price == OPENAI_PRICES.default == Price(5.0, 30.0, cache_read=0.50)


def test_unknown_claude_models_get_the_most_expensive_tier() -> None:
    price, known = ANTHROPIC_PRICES.lookup("claude-nova-1")
    assert not known
    assert price == ANTHROPIC_PRICES.default == Price(10.0, 50.0, 12.5, 1.0)


def test_usage_is_priced_by_kind() -> None:
    usage = TokenUsage(
        input=1_000_000, output=1_000_000, cache_write=1_000_000, cache_read=1_000_000
    )
    assert usage.cost(Price(3.0, 15.0, 3.75, 0.30)) == pytest.approx(22.05)
    assert usage.prompt == 3_000_000


def test_a_message_seen_twice_is_charged_once_and_growth_only() -> None:
    meter = StreamMeter(ANTHROPIC_PRICES, cap_usd=None, model="claude-sonnet-4-5")
    first = TokenUsage(input=1_000, output=10)
    assert meter.charge(first, key="msg_1") == pytest.approx((1_000 * 3 + 10 * 15) / 1e6)
    assert meter.charge(first, key="msg_1") == 0  # another content block, same usage
    grown = meter.charge(TokenUsage(input=1_000, output=110), key="msg_1")
    assert grown == pytest.approx(100 * 15 / 1e6)
    assert meter.tokens == TokenUsage(input=1_000, output=110)
    assert meter.events == 2
    meter.charge(TokenUsage(input=10), key="msg_2", model="claude-opus-4-8")
    assert meter.usd == pytest.approx((1_000 * 3 + 110 * 15 + 10 * 5) / 1e6)


def test_the_cap_is_passed_strictly() -> None:
    meter = StreamMeter(OPENAI_PRICES, cap_usd=1.0, model="gpt-5.1-codex")
    meter.charge(TokenUsage(output=100_000))  # exactly $1.00
    assert not meter.over_cap
    meter.charge(TokenUsage(output=1))
    assert meter.over_cap
    assert not StreamMeter(OPENAI_PRICES, cap_usd=None, model=None).over_cap


def test_settling_replaces_the_estimate() -> None:
    meter = StreamMeter(ANTHROPIC_PRICES, cap_usd=None, model="claude-sonnet-4-5")
    meter.charge(TokenUsage(input=10_000, output=1_000))
    meter.settle(TokenUsage(input=12_000, output=900), usd=0.05)
    assert (meter.usd, meter.settled) == (0.05, True)
    assert meter.runner_usage().input_tokens == 12_000
    meter.settle(TokenUsage(output=1_000_000))  # no figure given: priced from the table
    assert meter.usd == pytest.approx(15.0)
    assert meter.max_event_usd == pytest.approx(15.0 - 0.05)


def test_unknown_models_are_remembered() -> None:
    meter = StreamMeter(OPENAI_PRICES, cap_usd=None, model=None)
    meter.charge(TokenUsage(output=1))
    meter.charge(TokenUsage(output=1), model="gpt-9")
    assert meter.unpriced == {"?", "gpt-9"}


def test_estimator_sends_the_context_again_as_cached_input() -> None:
    estimate = ContextEstimator(base_tokens=100, chars_per_token=1.0)
    estimate.add_input(50)  # the prompt
    first = estimate.request(output_chars=10)
    assert first == TokenUsage(input=150, output=10)
    estimate.add_input(1_000)  # a command's output
    second = estimate.request(output_chars=20)
    assert second == TokenUsage(input=10 + 1_000, output=20, cache_read=150)
    assert estimate.reply(5) == TokenUsage(output=5)
    third = estimate.request(output_chars=0)
    assert third == TokenUsage(input=20 + 5, cache_read=1_160)


def test_estimator_rounds_characters_up_to_tokens() -> None:
    estimate = ContextEstimator(base_tokens=0)
    assert [estimate.tokens(chars) for chars in (0, 1, 3, 4)] == [0, 1, 1, 2]
