"""The record format: key order, compact bytes, hash over raw bytes, validation."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydra.audit._encode import check_stream_name, make_pending, record_prefix, seal, utc_timestamp
from hydra.audit._scan import check_line, hash_matches

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _line(seq: int, prev: str | None, **kwargs: object) -> tuple[bytes, str, dict[str, object]]:
    entry = make_pending(
        str(kwargs.get("action", "loop.disabled")),
        str(kwargs.get("actor", "api")),
        kwargs.get("payload", {"loop": "health"}),  # type: ignore[arg-type]
        kwargs.get("run"),  # type: ignore[arg-type]
        None,
    )
    line, digest = seal(record_prefix("control"), seq, entry, prev, "control")
    assert entry.record is not None
    return line, digest, entry.record


def test_line_is_orjson_of_the_record_in_fixed_key_order() -> None:
    line, digest, record = _line(1, None, payload={"b": 1, "a": [1, "x"]})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert list(record) == [
        "v", "stream", "seq", "ts", "actor", "action", "run", "payload", "prev", "hash",
    ]  # fmt: skip
    assert line == orjson.dumps(record) + b"\n"
    assert orjson.loads(line) == record
    assert record["hash"] == digest
    assert line.startswith(b'{"v":1,"stream":"control","seq":1,"ts":"')


def test_hash_is_sha256_of_the_line_without_the_hash_member() -> None:
    line, digest, record = _line(7, "ab" * 32, run="run-1")
    body = line.rstrip(b"\n")
    assert body.endswith(f',"hash":"{digest}"}}'.encode())
    canonical = body[: -len(f',"hash":"{digest}"}}')] + b"}"
    assert canonical.endswith(b',"prev":"' + b"ab" * 32 + b'"}')
    assert hashlib.sha256(canonical).hexdigest() == digest
    without_hash = {key: value for key, value in record.items() if key != "hash"}
    assert orjson.dumps(without_hash) == canonical
    assert hash_matches(body)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    action=st.text(min_size=1, max_size=20),
    actor=st.text(max_size=10),
    run=st.none() | st.text(max_size=10),
)
def test_any_json_payload_round_trips_and_verifies(
    payload: dict[str, object], action: str, actor: str, run: str | None
) -> None:
    line, _, record = _line(3, "00" * 32, payload=payload, action=action, actor=actor, run=run)
    assert orjson.loads(line) == record
    assert record["payload"] == payload
    parsed, reason = check_line(line.rstrip(b"\n"), "control")
    assert reason is None
    assert parsed == record


def test_timestamp_is_rfc3339_utc_with_microseconds_and_z() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utc_timestamp())
    moment = datetime(2026, 11, 22, 11, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc_timestamp(moment) == "2026-11-22T10:00:00.000000Z"
    assert utc_timestamp(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)).endswith("05.000006Z")


@pytest.mark.parametrize("name", ["control", "a", "loop.health_check-2", "x" * 64])
def test_valid_stream_names(name: str) -> None:
    assert check_stream_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Control", "1loop", "-x", "a/b", "a b", "x" * 65, "../etc", ".hidden", "é"]
)
def test_invalid_stream_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid audit stream name"):
        check_stream_name(name)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"when": object()}, "not JSON-serialisable"),
        ({1: "non-string key"}, "not JSON-serialisable"),
        ({"big": 2**70}, "not JSON-serialisable"),
        (["not", "a", "mapping"], "must be a mapping"),
    ],
)
def test_bad_payload_is_a_type_error(payload: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make_pending("x", "api", payload, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "actor", "run"),
    [("", "api", None), (1, "api", None), ("x", None, None), ("x", "a", 5)],
)
def test_bad_fields_are_type_errors(action: object, actor: object, run: object) -> None:
    with pytest.raises(TypeError):
        make_pending(action, actor, {}, run, None)  # type: ignore[arg-type]


def test_redact_sees_the_payload_and_its_result_is_written() -> None:
    seen: list[object] = []

    def redact(payload: object) -> object:
        seen.append(payload)
        assert isinstance(payload, dict)
        return {k: ("***" if k == "token" else v) for k, v in payload.items()}

    entry = make_pending("x", "api", {"token": "sk-secret", "n": 1}, None, redact)
    assert seen == [{"token": "sk-secret", "n": 1}]
    assert b"sk-secret" not in entry.middle
    assert orjson.loads(entry.payload_json) == {"token": "***", "n": 1}
