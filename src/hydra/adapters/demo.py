"""What ``hydra run --demo`` shows: a fake world seeded so every loop has work to do."""

from __future__ import annotations

from fakes import AgentOutcome, MockWorld

DEMO_FILES = {
    "README.md": "# demo service\n\nA small service the factory looks after.\n",
    "LICENSE": "MIT License\n",
    "pyproject.toml": "[project]\nname = 'demo'\n\n[tool.ruff]\nline-length = 100\n",
    "src/app.py": "def answer():\n    return 41\n",
    "tests/test_app.py": (
        "from src.app import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"
    ),
}


def seed_demo(mock: MockWorld) -> None:
    """Seed every repository of ``mock`` with escalations, a change request and base files."""
    for name in list(mock.world.repos):
        mock.seed_files(DEMO_FILES, repo=name)
        mock.seed_issue(
            "answer() returns 41",
            "The service must answer 42; tests fail on main.",
            ["hitl-escalation"],
            repo=name,
        )
        mock.seed_issue(
            "Flaky deploy script",
            "Needs a person.",
            ["hitl-escalation", "cultural-check"],
            repo=name,
        )
        mock.seed_change(
            "Tidy the README",
            repo=name,
            branch="docs/readme",
            files={"README.md": "# demo service\n\nLooked after by Hydra.\n"},
        )
    mock.agent.default = AgentOutcome.succeed(
        "Changed answer() to return 42 and ran the tests.",
        edits={"src/app.py": "def answer():\n    return 42\n"},
        usd=0.02,
        duration_s=3.0,
    )
