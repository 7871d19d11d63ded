from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hydra.registry import LoopRegistry, RegistryError
from hydra.sdk import Loop, TickResult
from tests.helpers.plugins import loop_source, make_plugin

GROUP = "hydra.test_loops"


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _forget(*modules: str) -> None:
    for module in modules:
        sys.modules.pop(module, None)


def test_discovers_entry_points_of_a_group(plugin_dir: Path) -> None:
    make_plugin(
        plugin_dir,
        dist="acme_loops",
        modules={
            "acme_alpha": loop_source("Alpha", "alpha"),
            "acme_beta": loop_source("Beta", "beta"),
        },
        entry_points={"alpha": "acme_alpha:Alpha", "beta": "acme_beta:Beta"},
        group=GROUP,
    )
    _forget("acme_alpha", "acme_beta")
    registry = LoopRegistry.discover(group=GROUP)
    assert registry.names() == ["alpha", "beta"]
    entry = registry.get("alpha")
    assert entry.status == "ok"
    assert entry.distribution == "acme_loops"
    assert entry.source == "alpha = acme_alpha:Alpha"


def test_builtin_health_loop_is_discovered_through_the_real_group() -> None:
    registry = LoopRegistry.discover()
    assert registry.get("health").status == "ok"


def test_plugin_whose_import_raises_is_listed_broken_and_others_load(plugin_dir: Path) -> None:
    make_plugin(
        plugin_dir,
        dist="flaky",
        modules={
            "flaky_bad": "raise RuntimeError('boom at import')\n",
            "flaky_good": loop_source("Good", "good"),
        },
        entry_points={"bad": "flaky_bad:Bad", "good": "flaky_good:Good"},
        group=GROUP,
    )
    _forget("flaky_bad", "flaky_good")
    registry = LoopRegistry.discover(group=GROUP)
    bad = registry.get("bad")
    assert bad.status == "broken"
    assert bad.error is not None
    assert "boom at import" in bad.error
    assert [e.name for e in registry.loadable()] == ["good"]
    with pytest.raises(LookupError, match="broken"):
        _ = bad.loop_class


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (loop_source("L", "l1", interval=0.001, low=1, high=10), "outside its bounds"),
        (loop_source("L", "l1", description=""), "missing description"),
        (loop_source("L", "l1", low=10, high=1), "0 < low <= high"),
    ],
)
def test_invalid_metadata_fails_discovery_naming_the_entry_point(
    plugin_dir: Path, source: str, message: str
) -> None:
    make_plugin(
        plugin_dir,
        dist="bad_meta",
        modules={"bad_meta_mod": source},
        entry_points={"l1": "bad_meta_mod:L"},
        group=GROUP,
    )
    _forget("bad_meta_mod")
    with pytest.raises(RegistryError, match=message) as info:
        LoopRegistry.discover(group=GROUP)
    assert "l1 = bad_meta_mod:L" in str(info.value)


def test_entry_point_name_must_match_the_loop_name(plugin_dir: Path) -> None:
    make_plugin(
        plugin_dir,
        dist="mismatch",
        modules={"mismatch_mod": loop_source("M", "real")},
        entry_points={"alias": "mismatch_mod:M"},
        group=GROUP,
    )
    _forget("mismatch_mod")
    with pytest.raises(RegistryError, match="does not match the entry-point name 'alias'"):
        LoopRegistry.discover(group=GROUP)


class _Dup(Loop):  # type: ignore[type-arg]
    name = "dup"
    description = "Duplicate."
    area = "testing"
    default_interval_s = 1.0
    interval_bounds = (0.1, 10.0)

    async def tick(self, ctx):  # type: ignore[no-untyped-def]
        return TickResult(status="ok")


class _Dup2(_Dup):
    pass


def test_duplicate_names_are_refused() -> None:
    registry = LoopRegistry()
    registry.register(_Dup)
    with pytest.raises(RegistryError, match="duplicate loop name 'dup'"):
        registry.register(_Dup2)


def test_blocked_name_stays_blocked_across_rediscovery() -> None:
    registry = LoopRegistry()
    registry.register(_Dup)
    registry.block("dup")
    assert registry.get("dup").status == "blocked"
    assert registry.register(_Dup2).status == "blocked"
    assert registry.loadable() == []


def test_reserved_and_malformed_names_are_invalid() -> None:
    class Control(_Dup):
        name = "control"

    class Upper(_Dup):
        name = "Upper"

    for cls, message in ((Control, "reserved"), (Upper, "must match")):
        with pytest.raises(RegistryError, match=message):
            LoopRegistry().register(cls)


def test_unknown_ports_and_abstract_tick_are_invalid() -> None:
    class WrongPort(_Dup):
        name = "wrong_port"
        ports = ("telepathy",)

    with pytest.raises(RegistryError, match="unknown ports"):
        LoopRegistry().register(WrongPort)

    class NoTick(Loop):  # type: ignore[type-arg]
        name = "no_tick"
        description = "x"
        area = "testing"
        default_interval_s = 1.0
        interval_bounds = (0.1, 10.0)

    with pytest.raises(RegistryError, match="abstract methods"):
        LoopRegistry().register(NoTick)
