from __future__ import annotations

from pathlib import Path

from hydra.catalog import render
from hydra.registry import LoopRegistry

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "arch" / "loops.md"


def test_loop_catalogue_matches_the_registry() -> None:
    expected = render(LoopRegistry.discover())
    assert CATALOGUE.read_text() == expected, (
        "docs/arch/loops.md drifted from the loop registry; regenerate it with "
        "`python -m hydra.catalog > docs/arch/loops.md`"
    )


def test_catalogue_lists_every_loadable_loop_with_its_options() -> None:
    registry = LoopRegistry.discover()
    text = render(registry)
    for entry in registry.loadable():
        cls = entry.loop_class
        assert f"## {cls.name}" in text
        for option in cls.Options.model_fields:
            assert f"`{option}`" in text
