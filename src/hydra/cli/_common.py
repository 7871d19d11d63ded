"""Helpers shared by the subcommands: exit codes, errors, output, the data dir."""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
"""The command ran and reports a failure (verify found damage, the daemon refused)."""
EXIT_USAGE = 2
"""Bad input: arguments, config file, settings."""
EXIT_NO_DAEMON = 3
"""The command needs a running daemon and none answered."""


class CliError(Exception):
    """Ends the command with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    raise CliError(message, code)


def config_value(args: Any, key: str) -> Any:
    """A top-level key of the config file (``--config`` or ./hydra.toml), or ``None``."""
    config = getattr(args, "config", None)
    path = Path(config) if config else Path("hydra.toml")
    if not path.is_file():
        if config:
            fail(f"config file {path} does not exist", EXIT_USAGE)
        return None
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh).get(key)
    except tomllib.TOMLDecodeError as exc:
        fail(f"config file {path}: invalid TOML: {exc}", EXIT_USAGE)


def data_dir_from(args: Any) -> Path:
    """``--data-dir``, else ``HYDRA_DATA_DIR``, else ``data_dir`` of the config file, else .hydra.

    Same precedence as the daemon's settings, without importing pydantic (fast start-up).
    """
    explicit = getattr(args, "data_dir", None)
    if explicit:
        return Path(explicit).resolve()
    env = os.environ.get("HYDRA_DATA_DIR")
    if env:
        return Path(env).resolve()
    value = config_value(args, "data_dir")
    return Path(value if isinstance(value, str) else ".hydra").resolve()


def add_location_args(parser: Any) -> None:
    """``--config`` and ``--data-dir``, shared by every command that finds the data dir."""
    parser.add_argument("--config", metavar="PATH", help="settings file (default: ./hydra.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default .hydra)")


def print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table that fits a terminal (cells are cut at 60 characters)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
