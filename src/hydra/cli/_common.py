"""Helpers shared by the subcommands: exit codes, errors, output, the data dir."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass
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


CONFIG_FILE = "hydra.toml"


@dataclass(frozen=True)
class Location:
    """Where a command's settings come from, as ``hydra run`` would read them."""

    config: Path | None
    """The settings file, or ``None`` (defaults and ``HYDRA_*`` only)."""
    base: Path
    """The directory relative paths of the settings (``data_dir``, ``[repos]``) resolve
    against: ``hydra run`` resolves them against its working directory, so this is the
    directory it would run in."""


def find_config(start: Path) -> Path | None:
    """``hydra.toml`` in ``start`` or its nearest parent holding one, looking no higher than
    the top of the git checkout holding ``start`` (outside git: ``start`` only)."""
    from hydra.repos import find_repo_root

    here = start.resolve()
    top = find_repo_root(here) or here
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        if directory == top:
            break
    return None


def locate(args: Any, cwd: Path | None = None) -> Location:
    """The settings file and base directory for a command run in ``cwd``.

    ``--config PATH`` (it must exist): that file, relative paths against ``cwd`` (as ``hydra
    run --config PATH`` does). Else the :func:`find_config` file, relative paths against its
    directory: the command works from any subdirectory like from where the daemon runs. Else
    no file, and the top of the git checkout (or ``cwd`` outside git) as the base.
    """
    from hydra.repos import find_repo_root

    here = (cwd or Path.cwd()).resolve()
    explicit = getattr(args, "config", None)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            fail(f"config file {path} does not exist", EXIT_USAGE)
        return Location(path.resolve(), here)
    found = find_config(here)
    if found is not None:
        return Location(found, found.parent)
    return Location(None, find_repo_root(here) or here)


def config_value(args: Any, key: str) -> Any:
    """A top-level key of the config file (see :func:`locate`), or ``None``."""
    path = locate(args).config
    if path is None:
        return None
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh).get(key)
    except tomllib.TOMLDecodeError as exc:
        fail(f"config file {path}: invalid TOML: {exc}", EXIT_USAGE)
    except OSError as exc:
        fail(f"config file {path}: cannot read: {exc.strerror}", EXIT_USAGE)


def data_dir_from(args: Any) -> Path:
    """``--data-dir``, else ``HYDRA_DATA_DIR``, else ``data_dir`` of the config file, else .hydra.

    Same precedence as the daemon's settings, without importing pydantic (fast start-up). A
    relative ``--data-dir`` is relative to the working directory (typed there); the others to
    the :class:`Location` base, where ``hydra run`` resolves them.
    """
    explicit = getattr(args, "data_dir", None)
    if explicit:
        return Path(explicit).resolve()
    base = locate(args).base
    env = os.environ.get("HYDRA_DATA_DIR")
    if env:
        return (base / env).resolve()
    value = config_value(args, "data_dir")
    return (base / (value if isinstance(value, str) else ".hydra")).resolve()


def existing_data_dir(args: Any) -> Path:
    """:func:`data_dir_from`, which must exist: a mistyped path is an error, not an empty log."""
    path = data_dir_from(args)
    if not path.is_dir():
        fail(
            f"no data dir at {path} (give --data-dir, HYDRA_DATA_DIR or data_dir in hydra.toml)",
            EXIT_USAGE,
        )
    return path


def add_location_args(parser: Any, *, inherited: bool = False) -> None:
    """``--config`` and ``--data-dir``, shared by every command that finds the data dir.

    A command with actions (``hydra loops --data-dir D enable x``, ``hydra loops enable x
    --data-dir D``) takes them before and after the action: they go on the command's parser
    and again, ``inherited=True``, on each action's (see :func:`inherited_default`).
    """
    default = inherited_default(inherited)
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="settings file (default: hydra.toml here or in a parent, up to the git root)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", default=default, help="data directory (default .hydra)"
    )


def inherited_default(inherited: bool, default: Any = None) -> Any:
    """The default of an option an action's parser repeats from its command's parser.

    argparse copies every attribute an action's parser sets over the command's, defaults
    included: ``hydra loops --json trigger x`` would lose ``--json`` to the action's default
    ``False``. ``SUPPRESS`` sets nothing unless the option is given after the action, so the
    value given before it (or the command's default) stands.
    """
    return argparse.SUPPRESS if inherited else default


def print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()
