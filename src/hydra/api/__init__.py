"""The web layer: a Starlette app over the running daemon. Built by :func:`create_app`."""

from __future__ import annotations

from hydra.api.app import create_app

__all__ = ["create_app"]
