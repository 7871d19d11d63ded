"""The public surface of ``hydra.runner`` is what we chose, and nothing leaks out of it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import hydra.runner

PUBLIC = {
    "DEFAULT_CLASSIFIER",
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_REGISTRY",
    "AuthFailed",
    "Captured",
    "Classifier",
    "Clock",
    "CostSink",
    "CreditExhausted",
    "EnvPolicy",
    "EnvValue",
    "FatalRunError",
    "LineHook",
    "Pattern",
    "ProcessRegistry",
    "RunResult",
    "RunStatus",
    "Runner",
    "RunnerConfig",
    "Secret",
    "StdoutLine",
    "SystemClock",
    "Usage",
    "UsageProbe",
    "Verdict",
    "build_env",
    "enable_subreaper",
    "kill_all",
    "reap_orphans",
}
PACKAGE = Path(hydra.runner.__file__).parent
ALLOWED_IMPORTS = {"anyio", "psutil", "hydra", "ports"}


def test_all_is_the_chosen_surface() -> None:
    assert set(hydra.runner.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(hydra.runner, name) is not None


def test_modules_are_private() -> None:
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert all(name == "__init__.py" or name.startswith("_") for name in modules)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_runner_imports_only_stdlib_anyio_psutil_and_itself() -> None:
    """Logger-free and web-free: no structlog, starlette, uvicorn, pydantic-settings.

    From the rest of ``hydra`` it takes only the real clock."""
    for path in PACKAGE.glob("*.py"):
        for module in imported_modules(path):
            root = module.split(".")[0]
            if root in sys.stdlib_module_names or root == "__future__":
                continue
            assert root in ALLOWED_IMPORTS, f"{path.name} imports {module}"
            if root == "hydra":
                assert module.startswith("hydra.runner") or module == "hydra.clock", (
                    f"{path.name} imports {module}"
                )
