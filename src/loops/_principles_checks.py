"""The built-in file checks of the principles audit (README, license, tests, CI, lint, secrets,
file size), each a pure function of the tracked files of a checkout."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from loops._principles_rules import BUILTIN_RULES, FileRule, Finding, Tree
from loops._principles_secrets import find_secrets, looks_binary

__all__ = ["MAX_EVIDENCE", "builtin_file_rules"]

MAX_EVIDENCE: Final = 20
"""Evidence lines kept per finding (the count says how many there were)."""
_CONFIG_READ: Final = 1_000_000
_TEST_DIRS: Final = frozenset({"tests", "test", "__tests__", "spec", "specs", "testing"})
_CI_FILES: Final = frozenset(
    {
        ".gitlab-ci.yml",
        ".travis.yml",
        ".drone.yml",
        ".woodpecker.yml",
        "azure-pipelines.yml",
        "bitbucket-pipelines.yml",
        "jenkinsfile",
        "appveyor.yml",
    }
)
_CI_DIRS: Final = (".ci/", ".circleci/", ".buildkite/", ".woodpecker/")
_CI_WORKFLOW_DIRS: Final = (".github/workflows/", ".gitea/workflows/", ".forgejo/workflows/")
_LINT_FILES: Final = frozenset(
    {
        "ruff.toml",
        ".ruff.toml",
        ".flake8",
        ".pylintrc",
        "pylintrc",
        ".golangci.yml",
        ".golangci.yaml",
        ".golangci.toml",
        ".rubocop.yml",
        "clippy.toml",
        ".clippy.toml",
        "biome.json",
        "biome.jsonc",
        ".swiftlint.yml",
        "phpcs.xml",
        ".pre-commit-config.yaml",
    }
)
_LINT_PREFIXES: Final = (".eslintrc", "eslint.config.", ".stylelintrc")
_LINT_SECTIONS: Final[dict[str, tuple[bytes, ...]]] = {
    "pyproject.toml": (b"[tool.ruff", b"[tool.flake8", b"[tool.pylint"),
    "setup.cfg": (b"[flake8]", b"[pylint"),
    "tox.ini": (b"[flake8]", b"[pylint"),
    "package.json": (b'"eslintConfig"',),
}


def _root_names(tree: Tree) -> list[str]:
    return [f.path for f in tree.files if "/" not in f.path]


def _bounded(items: Sequence[str]) -> tuple[str, ...]:
    if len(items) <= MAX_EVIDENCE:
        return tuple(items)
    return (*items[:MAX_EVIDENCE], f"… and {len(items) - MAX_EVIDENCE} more")


async def check_readme(tree: Tree) -> Finding:
    found = [p for p in _root_names(tree) if p.upper().startswith("README")]
    if found:
        return Finding(True, f"found {found[0]}")
    return Finding(False, "no README at the repository root")


async def check_license(tree: Tree) -> Finding:
    def is_license(name: str) -> bool:
        stem = name.upper().split(".", 1)[0]
        return stem in {"LICENSE", "LICENCE", "COPYING", "UNLICENSE"} or stem.startswith(
            ("LICENSE-", "LICENCE-")
        )

    found = [p for p in _root_names(tree) if is_license(p)]
    if found:
        return Finding(True, f"found {found[0]}")
    return Finding(False, "no LICENSE, LICENCE or COPYING file at the repository root")


async def check_tests(tree: Tree) -> Finding:
    for f in tree.files:
        directories = f.path.split("/")[:-1]
        hit = next((d for d in directories if d.lower() in _TEST_DIRS), None)
        if hit is not None:
            return Finding(True, f"found {hit}/ (holding {f.path})")
    return Finding(False, "no tests directory (tests/, test/, __tests__/, spec/) in the tree")


async def check_ci(tree: Tree) -> Finding:
    for f in tree.files:
        lower = f.path.lower()
        if lower in _CI_FILES or lower.startswith(_CI_DIRS):
            return Finding(True, f"found {f.path}")
        if lower.startswith(_CI_WORKFLOW_DIRS) and lower.endswith((".yml", ".yaml")):
            return Finding(True, f"found {f.path}")
    return Finding(False, "no CI configuration (.github/workflows, .gitlab-ci.yml, .ci/, …)")


async def check_lint(tree: Tree) -> Finding:
    for f in tree.files:
        name = f.path.rsplit("/", 1)[-1]
        if name in _LINT_FILES or name.startswith(_LINT_PREFIXES):
            return Finding(True, f"found {f.path}")
    for name in _root_names(tree):
        markers = _LINT_SECTIONS.get(name)
        if markers is None:
            continue
        data = await tree.read(name, _CONFIG_READ)
        section = next((m for m in markers if data is not None and m in data), None)
        if section is not None:
            return Finding(True, f"found {section.decode()} in {name}")
    return Finding(False, "no lint configuration (ruff, flake8, pylint, eslint, golangci, …)")


def size_check(max_bytes: int) -> Callable[[Tree], Awaitable[Finding]]:
    async def check_size(tree: Tree) -> Finding:
        big = [f for f in tree.files if f.size > max_bytes]
        if not big:
            return Finding(True, f"no tracked file over {max_bytes} bytes")
        return Finding(
            False,
            f"{len(big)} tracked file(s) over {max_bytes} bytes",
            _bounded([f"{f.path} ({f.size} bytes)" for f in big]),
        )

    return check_size


def secrets_check(max_bytes: int, allowed: Sequence[str]) -> Callable[[Tree], Awaitable[Finding]]:
    async def check_secrets(tree: Tree) -> Finding:
        hits: list[str] = []
        scanned = skipped = 0
        for f in tree.files:
            if any(fnmatch.fnmatchcase(f.path, glob) for glob in allowed):
                continue
            if f.size > max_bytes:
                skipped += 1
                continue
            data = await tree.read(f.path, max_bytes)
            if data is None:
                continue
            if looks_binary(data):
                skipped += 1
                continue
            scanned += 1
            text = data.decode("utf-8", errors="replace")
            hits.extend(f"{f.path}:{hit.line} ({hit.kind})" for hit in find_secrets(text))
        note = f"{scanned} text file(s) scanned, {skipped} binary or oversized skipped"
        if not hits:
            return Finding(True, f"no credentials found; {note}")
        return Finding(False, f"{len(hits)} credential(s) found; {note}", _bounded(hits))

    return check_secrets


def builtin_file_rules(
    *, max_file_bytes: int, secret_scan_max_bytes: int, secret_allow_paths: Sequence[str]
) -> list[FileRule]:
    """The built-in file rules with their default severities, in catalogue order."""
    checks: dict[str, Callable[[Tree], Awaitable[Finding]]] = {
        "readme": check_readme,
        "license": check_license,
        "tests": check_tests,
        "ci": check_ci,
        "lint": check_lint,
        "secrets": secrets_check(secret_scan_max_bytes, secret_allow_paths),
        "file_size": size_check(max_file_bytes),
    }
    return [
        FileRule(rule_id, BUILTIN_RULES[rule_id][0], BUILTIN_RULES[rule_id][1], check)
        for rule_id, check in checks.items()
    ]
