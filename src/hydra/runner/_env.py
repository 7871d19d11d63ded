"""The child environment: an allow-list over the daemon's environment, plus explicit extras.

A child never inherits the daemon's environment wholesale: only allow-listed names pass,
so a token the daemon holds (``HYDRA_API_TOKEN``, say) reaches a child only when someone
configured it to. Secrets travel through the environment or stdin, never through argv
(any local user can read ``/proc/*/cmdline``); `Secret` keeps them out of reprs and logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["DEFAULT_ENV_ALLOW", "EnvPolicy", "EnvValue", "Secret", "build_env"]

DEFAULT_ENV_ALLOW: Final[frozenset[str]] = frozenset(
    {"PATH", "HOME", "LANG", "TERM", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL"}
)
_DEFAULT_PREFIXES: Final[tuple[str, ...]] = ("LC_",)
_REDACTED: Final = "Secret('***')"


@dataclass(frozen=True, slots=True, repr=False)
class Secret:
    """A secret string whose ``repr``/``str`` never show the value.

    Use `reveal` at the single place the value must leave the process (the child's
    environment or stdin). Equality compares values so settings round-trip.
    """

    _value: str

    def reveal(self) -> str:
        """Return the secret value. Call it only where the value is handed to a child."""
        return self._value

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__


EnvValue = str | Secret


@dataclass(frozen=True, slots=True)
class EnvPolicy:
    """Which of the daemon's environment variables a child may inherit.

    ``allow`` names exact variables, ``allow_prefixes`` whole families (``LC_*``).
    Anything else the daemon holds is withheld; per-call extras are added on top.
    """

    allow: frozenset[str] = DEFAULT_ENV_ALLOW
    allow_prefixes: tuple[str, ...] = field(default=_DEFAULT_PREFIXES)

    def allows(self, name: str) -> bool:
        """Whether the daemon's variable ``name`` passes to children."""
        return name in self.allow or name.startswith(self.allow_prefixes)

    def allowing(self, names: Iterable[str]) -> EnvPolicy:
        """A copy that also lets ``names`` through (e.g. a configured token variable)."""
        return EnvPolicy(self.allow | frozenset(names), self.allow_prefixes)


def build_env(
    policy: EnvPolicy,
    extras: Mapping[str, EnvValue] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment for one child.

    The allow-listed part of ``environ`` (default: ``os.environ``) plus ``extras``, which
    win on conflict. `Secret` extras are revealed here and nowhere else.

    Raises:
        TypeError: an extra is neither ``str`` nor `Secret`.
        ValueError: a name is empty or contains ``=`` or NUL, or a value contains NUL.
    """
    source = os.environ if environ is None else environ
    env = {name: value for name, value in source.items() if policy.allows(name)}
    items: Mapping[str, object] = extras or {}
    for name, value in items.items():
        if not name or "=" in name or "\0" in name:
            msg = f"invalid environment variable name: {name!r}"
            raise ValueError(msg)
        if isinstance(value, Secret):
            clear = value.reveal()
        elif isinstance(value, str):
            clear = value
        else:
            msg = f"environment value for {name} must be str or Secret, got {type(value).__name__}"
            raise TypeError(msg)
        if "\0" in clear:
            msg = f"environment value for {name} contains NUL"
            raise ValueError(msg)
        env[name] = clear
    return env
