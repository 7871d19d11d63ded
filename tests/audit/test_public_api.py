"""The public surface of hydra.audit is what we chose, and the reader side stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hydra.audit
from tests.audit.conftest import subprocess_env

PUBLIC = {
    "AuditFatal",
    "AuditLog",
    "AuditStream",
    "BulkEntry",
    "DamageReport",
    "Finding",
    "OnCommit",
    "RecordFilter",
    "RepairReport",
    "StreamDamaged",
    "StreamInfo",
    "Subscription",
    "SyncMode",
    "VerifyReport",
    "bulk_append",
    "follow",
    "force_repair",
    "iter_records",
    "iter_records_reverse",
    "last_record",
    "list_streams",
    "query",
    "verify",
}


def test_all_is_the_chosen_surface() -> None:
    assert set(hydra.audit.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(hydra.audit, name) is not None
    assert set(dir(hydra.audit)) == PUBLIC


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nope"):
        hydra.audit.nope  # noqa: B018 - the access is the test


def test_reader_side_imports_no_async_or_web_stack() -> None:
    code = (
        "import sys, hydra.audit\n"
        "from hydra.audit import query, verify, follow, iter_records, force_repair\n"
        "heavy = ['anyio', 'pydantic', 'pydantic_settings', 'structlog', 'starlette',"
        " 'uvicorn', 'httpx']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "hydra.audit.AuditLog\n"
        "print('anyio' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
