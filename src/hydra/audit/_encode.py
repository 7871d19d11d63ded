"""The record format: one compact JSON object per line, hash-chained.

A line is exactly what ``orjson.dumps`` produces for the record with its keys in this
order::

    {"v":1,"stream":S,"seq":N,"ts":T,"actor":A,"action":X,"run":R,"payload":P,"prev":H,"hash":D}

``D`` is the sha256 hex digest of the *body*: the line's bytes up to and including the
``prev`` member, closed with ``}``. The written line is the body with its final ``}``
replaced by ``,"hash":"D"}`` plus ``\\n``, so verification hashes raw bytes and never
re-serialises. The writer builds lines by concatenating pre-serialised parts: everything
that does not depend on the stream position (``ts`` .. ``payload``) is serialised at
``append()`` time; ``seq``/``prev``/``hash`` are filled in under the file lock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from hashlib import sha256

import orjson

SCHEMA_VERSION = 1
_STREAM_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# len(',"hash":"') + 64 hex digits + len('"}')
HASH_SUFFIX_LEN = 9 + 64 + 2
HASH_OPEN = b',"hash":"'
_HASH_CLOSE = b'"}\n'

Redact = Callable[[object], object]


def is_stream_name(name: object) -> bool:
    return isinstance(name, str) and _STREAM_NAME.fullmatch(name) is not None


def check_stream_name(name: str) -> str:
    """Return ``name`` if it is a valid stream name, else raise ``ValueError``."""
    if not is_stream_name(name):
        msg = f"invalid audit stream name {name!r}: expected ^[a-z][a-z0-9_.-]{{0,63}}$"
        raise ValueError(msg)
    return name


_second_prefix: tuple[int, str] = (-1, "")
"""The formatted current second (``2026-11-22T10:00:00.``): every append needs a timestamp."""


def utc_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, e.g. ``2026-11-22T10:00:00.123456Z``."""
    global _second_prefix  # noqa: PLW0603 - a one-entry cache, replaced atomically
    if moment is not None:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached, prefix = _second_prefix
    if second != cached:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _second_prefix = (second, prefix)
    return f"{prefix}{nanos // 1000:06d}Z"


def record_prefix(stream: str) -> bytes:
    """The constant start of every line of ``stream``, up to the ``seq`` value."""
    return b'{"v":1,"stream":' + orjson.dumps(stream) + b',"seq":'


class Pending:
    """One record on its way to disk: pre-serialised parts in, committed record out."""

    __slots__ = ("action", "actor", "error", "middle", "payload_json", "record", "run", "ts")

    def __init__(
        self, ts: str, actor: str, action: str, run: str | None, payload_json: bytes
    ) -> None:
        self.ts = ts
        self.actor = actor
        self.action = action
        self.run = run
        self.payload_json = payload_json
        self.middle = b',"ts":"%b","actor":%b,"action":%b,"run":%b,"payload":%b,"prev":' % (
            ts.encode(),
            orjson.dumps(actor),
            orjson.dumps(action),
            b"null" if run is None else orjson.dumps(run),
            payload_json,
        )
        self.record: dict[str, object] | None = None
        self.error: BaseException | None = None


def make_pending(
    action: str,
    actor: str,
    payload: Mapping[str, object] | None,
    run: str | None,
    redact: Redact | None,
) -> Pending:
    """Validate and serialise one append; raises ``TypeError`` for the caller's mistakes."""
    if type(action) is not str or not action:
        raise TypeError(f"audit action must be a non-empty str, got {action!r}")
    if type(actor) is not str:
        raise TypeError(f"audit actor must be a str, got {actor!r}")
    if run is not None and type(run) is not str:
        raise TypeError(f"audit run must be a str or None, got {run!r}")
    body: object = {} if payload is None else payload
    if redact is not None:
        body = redact(body)
    if type(body) is not dict:
        if not isinstance(body, Mapping):
            raise TypeError(f"audit payload must be a mapping, got {type(body).__name__}")
        body = dict(body)
    try:
        payload_json = orjson.dumps(body)
    except orjson.JSONEncodeError as exc:  # a TypeError subclass; say what failed
        raise TypeError(f"audit payload of {action!r} is not JSON-serialisable: {exc}") from exc
    return Pending(utc_timestamp(), actor, action, run, payload_json)


def seal(
    prefix: bytes, seq: int, entry: Pending, prev: str | None, stream: str
) -> tuple[bytes, str]:
    """Build the final line (with ``\\n``) and its hash; stores the record dict on ``entry``."""
    core = b"".join(
        (prefix, str(seq).encode(), entry.middle, b"null" if prev is None else f'"{prev}"'.encode())
    )
    hasher = sha256(core)
    hasher.update(b"}")
    digest = hasher.hexdigest()
    entry.record = {
        "v": SCHEMA_VERSION,
        "stream": stream,
        "seq": seq,
        "ts": entry.ts,
        "actor": entry.actor,
        "action": entry.action,
        "run": entry.run,
        "payload": orjson.loads(entry.payload_json),
        "prev": prev,
        "hash": digest,
    }
    return b"".join((core, HASH_OPEN, digest.encode(), _HASH_CLOSE)), digest
