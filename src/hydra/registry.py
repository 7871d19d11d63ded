"""The loop registry: every loop discovered through the ``hydra.loops`` entry-point group.

Built-in loops use the same entry-point mechanism as third-party plugins. Discovery validates
each loop class at registration:

* invalid metadata (interval outside its bounds, a missing description, a duplicate or
  mismatched name…) is an operator-visible configuration error: :class:`RegistryError` names
  the entry point, and the daemon refuses to start;
* a plugin whose import raises is listed with status ``broken`` and its error, and every other
  loop runs;
* a *blocked* name stays off even when a later discovery finds it again.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from hydra.sdk import Loop, metadata_problems

ENTRY_POINT_GROUP = "hydra.loops"

EntryStatus = Literal["ok", "broken", "blocked"]


class RegistryError(Exception):
    """A loop plugin is invalid; the message names the entry point and every problem."""


@dataclass(frozen=True)
class LoopEntry:
    """One discovered loop: its class when it loaded, or why it did not."""

    name: str
    source: str
    """``name = module:attr`` of the entry point (or ``module.Class`` when registered directly)."""
    status: EntryStatus
    cls: type[Loop[Any]] | None = None
    error: str | None = None
    distribution: str | None = None

    @property
    def loop_class(self) -> type[Loop[Any]]:
        if self.cls is None:
            raise LookupError(f"loop {self.name!r} is {self.status}: {self.error}")
        return self.cls


class LoopRegistry:
    """Loops keyed by name."""

    def __init__(self, *, blocked: Iterable[str] = ()) -> None:
        self._entries: dict[str, LoopEntry] = {}
        self._blocked = set(blocked)

    # ------------------------------------------------------------------ building
    @classmethod
    def discover(
        cls, *, group: str = ENTRY_POINT_GROUP, blocked: Iterable[str] = ()
    ) -> LoopRegistry:
        """Load every entry point of ``group``. Raises :class:`RegistryError` on bad metadata."""
        registry = cls(blocked=blocked)
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            registry.load_entry_point(ep)
        return registry

    def load_entry_point(self, ep: EntryPoint) -> LoopEntry:
        source = f"{ep.name} = {ep.value}"
        dist = ep.dist.name if ep.dist is not None else None
        if ep.name in self._blocked:
            return self._add(LoopEntry(ep.name, source, "blocked", distribution=dist))
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            error = "".join(traceback.format_exception_only(exc)).strip()
            return self._add(LoopEntry(ep.name, source, "broken", error=error, distribution=dist))
        if getattr(obj, "name", None) != ep.name:
            raise RegistryError(
                f"entry point {source!r}: loop name {getattr(obj, 'name', None)!r} "
                f"does not match the entry-point name {ep.name!r}"
            )
        return self._register(obj, source, dist)

    def register(self, cls: type[Loop[Any]]) -> LoopEntry:
        """Register a loop class directly (tests, embedding). Same validation as discovery."""
        return self._register(cls, f"{cls.__module__}.{cls.__qualname__}", None)

    def block(self, name: str) -> None:
        """Keep ``name`` off: it is dropped now and refused by later registrations."""
        self._blocked.add(name)
        if name in self._entries:
            entry = self._entries[name]
            self._entries[name] = LoopEntry(
                name, entry.source, "blocked", distribution=entry.distribution
            )

    def _register(self, obj: Any, source: str, dist: str | None) -> LoopEntry:
        problems = metadata_problems(obj)
        if problems:
            raise RegistryError(
                f"entry point {source!r}: invalid loop metadata: {'; '.join(problems)}"
            )
        name: str = obj.name
        if name in self._blocked:
            return self._add(LoopEntry(name, source, "blocked", distribution=dist))
        if name in self._entries:
            raise RegistryError(
                f"entry point {source!r}: duplicate loop name {name!r} "
                f"(already registered by {self._entries[name].source!r})"
            )
        return self._add(LoopEntry(name, source, "ok", cls=obj, distribution=dist))

    def _add(self, entry: LoopEntry) -> LoopEntry:
        self._entries[entry.name] = entry
        return entry

    # ------------------------------------------------------------------ reading
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[LoopEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> LoopEntry:
        """The entry for ``name``; KeyError when no such loop was discovered."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown loop {name!r}") from None

    def loadable(self) -> list[LoopEntry]:
        """Entries whose class loaded and passed validation, by name."""
        return [e for e in self if e.status == "ok"]

    def names(self) -> list[str]:
        return [e.name for e in self]
