"""``RecordFilter``: which records a reader, ``follow`` or ``query`` yields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import orjson

from hydra.audit._encode import utc_timestamp


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """All given conditions must hold (``None`` means "any").

    * ``actions`` - exact action names and ``prefix.*`` patterns (``tick.*`` matches
      ``tick.started`` and ``tick.a.b``, not ``tick``); any one of them must match.
    * ``run`` / ``actor`` - exact values.
    * ``since`` <= ``ts`` < ``until`` - timezone-aware datetimes (naive ones are refused).
    """

    actions: frozenset[str] | None = None
    run: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    _exact: frozenset[str] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _since: str | None = field(init=False, repr=False, compare=False)
    _until: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given: object = self.actions
        if isinstance(given, str):
            raise TypeError("RecordFilter.actions must be a set of names, not a str")
        if given is not None and not isinstance(given, frozenset):
            object.__setattr__(self, "actions", frozenset(cast("Iterable[str]", given)))
        exact, prefixes = _split_patterns(self.actions or ())
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_prefixes", prefixes)
        object.__setattr__(self, "_since", _bound("since", self.since))
        object.__setattr__(self, "_until", _bound("until", self.until))

    def matches(self, record: Mapping[str, object]) -> bool:
        """True if ``record`` (a parsed audit record) satisfies every condition."""
        if self.actions is not None and not self._action_matches(record.get("action")):
            return False
        if self.run is not None and record.get("run") != self.run:
            return False
        if self.actor is not None and record.get("actor") != self.actor:
            return False
        if self._since is None and self._until is None:
            return True
        ts = record.get("ts")
        return (
            type(ts) is str
            and (self._since is None or ts >= self._since)
            and (self._until is None or ts < self._until)
        )

    def _action_matches(self, action: object) -> bool:
        return type(action) is str and (action in self._exact or action.startswith(self._prefixes))

    def needles(self) -> tuple[bytes, ...] | None:
        """Byte strings of which every matching line contains at least one, or ``None``.

        Exact because the writer's serialisation is fixed: a record with action ``X``
        contains ``"action":`` + ``orjson.dumps(X)``. Used as a pre-filter only; every
        candidate is still parsed and checked with :meth:`matches`.
        """
        if self.actions is not None:
            found = [b'"action":' + orjson.dumps(name) for name in sorted(self._exact)]
            found += [b'"action":' + orjson.dumps(p)[:-1] for p in self._prefixes]
            return tuple(found)
        if self.run is not None:
            return (b'"run":' + orjson.dumps(self.run),)
        if self.actor is not None:
            return (b'"actor":' + orjson.dumps(self.actor),)
        return None

    def required(self) -> tuple[bytes, ...]:
        """Byte strings every matching line contains (cheap checks before parsing)."""
        found = []
        if self.run is not None:
            found.append(b'"run":' + orjson.dumps(self.run))
        if self.actor is not None:
            found.append(b'"actor":' + orjson.dumps(self.actor))
        return tuple(found)

    @property
    def since_text(self) -> str | None:
        """``since`` in the records' ``ts`` format (so bounds compare as strings)."""
        return self._since

    @property
    def until_text(self) -> str | None:
        return self._until

    @property
    def is_empty(self) -> bool:
        return (
            self.actions is None
            and self.run is None
            and self.actor is None
            and self.since is None
            and self.until is None
        )


def _split_patterns(actions: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    exact, prefixes = set(), []
    for action in actions:
        if type(action) is not str or not action:
            raise ValueError(f"invalid action pattern {action!r}")
        if action.endswith(".*"):
            stem = action[:-1]
            if "*" in stem or stem == ".":
                raise ValueError(f"invalid action pattern {action!r}")
            prefixes.append(stem)
        elif "*" in action:
            raise ValueError(f"invalid action pattern {action!r}: only a trailing '.*' is allowed")
        else:
            exact.add(action)
    return frozenset(exact), tuple(sorted(prefixes))


def _bound(name: str, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"RecordFilter.{name} must be timezone-aware, got {moment!r}")
    return utc_timestamp(moment)
