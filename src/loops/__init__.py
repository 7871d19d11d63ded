"""Caretaker loops shipped with Hydra, each registered through the ``hydra.loops`` entry point."""
