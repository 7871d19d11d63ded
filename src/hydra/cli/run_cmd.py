"""``hydra run``: start the daemon in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hydra.cli._common import EXIT_USAGE, CliError, locate


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run", help="run the daemon in the foreground", description="Run the Hydra daemon."
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="settings file (default: hydra.toml here or in a parent, up to the repository root)",
    )
    parser.add_argument("--host", help="API address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="API port (default 8765; 0 picks a free one)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default .hydra)")
    parser.add_argument("--demo", action="store_true", help="act on the in-memory fake world")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import anyio

    from hydra.daemon import StartupError, run_daemon
    from hydra.registry import RegistryError
    from hydra.settings import SettingsError, load_settings

    overrides: dict[str, Any] = {}
    api: dict[str, Any] = {}
    if args.host:
        api["host"] = args.host
    if args.port is not None:
        api["port"] = args.port
    if api:
        overrides["api"] = api
    if args.data_dir:
        overrides["data_dir"] = Path(args.data_dir).resolve()
    if args.demo:
        overrides["world"] = "fake"
    # The same settings file and base directory as every other command (`locate`): started
    # from a subdirectory, the daemon still uses the repository's hydra.toml and data dir.
    where = locate(args)
    try:
        os.chdir(where.base)
    except OSError as exc:
        raise CliError(f"cannot enter {where.base}: {exc.strerror}", EXIT_USAGE) from None
    try:
        settings = load_settings(where.config, **overrides)
        return anyio.run(run_daemon, settings)
    except SettingsError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None
    except RegistryError as exc:
        raise CliError(f"plugin error: {exc}", EXIT_USAGE) from None
    except StartupError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    finally:
        sys.stdout.flush()
