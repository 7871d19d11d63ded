"""Test support for the agent adapters: fake ``claude`` / ``codex`` CLIs and helpers."""
