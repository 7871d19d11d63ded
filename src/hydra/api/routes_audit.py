"""``/api/audit``: streams with sizes and counts, pages of a stream, and ``verify``."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from hydra.api.models import (
    ActionPattern,
    AuditPage,
    FindingView,
    StreamList,
    StreamView,
    UtcDatetime,
    VerifyView,
)
from hydra.api.operations import ApiError, Call, Operation
from hydra.audit import RecordFilter, iter_records_reverse, list_streams, verify

MAX_PAGE = 500


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before_seq: int | None = Field(default=None, ge=1)
    """Records with a lower seq than this (page back); default: from the newest."""
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    action: list[ActionPattern] | None = None
    """Exact action names or ``prefix.*`` patterns; any may match."""
    run: str | None = None
    actor: str | None = None
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None


def _root(call: Call) -> Path:
    return call.rt.data_dir / "audit"


def _names(root: Path) -> list[str]:
    return [info.name for info in list_streams(root)]


async def _require_stream(call: Call) -> str:
    stream = call.params["stream"]
    names = await anyio.to_thread.run_sync(_names, _root(call))
    if stream not in names:
        raise ApiError(404, f"unknown audit stream {stream!r}")
    return stream


async def list_audit_streams(call: Call) -> StreamList:
    infos = await anyio.to_thread.run_sync(list_streams, _root(call))
    return StreamList(
        streams=[
            StreamView(
                stream=i.name,
                segments=len(i.segments),
                bytes=i.total_bytes,
                first_seq=i.first_seq,
                last_seq=i.last_seq,
                records=(i.last_seq - i.first_seq + 1) if i.first_seq and i.last_seq else 0,
            )
            for i in infos
        ]
    )


def _page(root: Path, stream: str, query: AuditQuery) -> tuple[list[dict[str, Any]], int | None]:
    flt = RecordFilter(
        actions=frozenset(query.action) if query.action else None,
        run=query.run,
        actor=query.actor,
        since=query.since,
        until=query.until,
    )
    records = iter_records_reverse(root, stream, filter=None if flt.is_empty else flt)
    if query.before_seq is not None:
        before = query.before_seq
        records = (r for r in records if _seq(r) < before)
    page = list(itertools.islice(records, query.limit + 1))
    more = len(page) > query.limit
    page = page[: query.limit]
    next_before = page[-1]["seq"] if more and page else None
    return page, next_before if isinstance(next_before, int) else None


def _seq(record: dict[str, Any]) -> int:
    seq = record.get("seq")
    return seq if isinstance(seq, int) else 0


async def read_stream(call: Call) -> AuditPage:
    stream = await _require_stream(call)
    query = call.query
    assert isinstance(query, AuditQuery)  # noqa: S101 - guaranteed by the operation table
    if query.since and query.until and query.since >= query.until:
        raise ApiError(422, "since: must be before until", field="since")
    records, next_before = await anyio.to_thread.run_sync(_page, _root(call), stream, query)
    return AuditPage(stream=stream, records=records, next_before_seq=next_before)


async def verify_stream(call: Call) -> VerifyView:
    stream = await _require_stream(call)
    report = await anyio.to_thread.run_sync(verify, _root(call), stream)
    data = report.to_dict()
    findings = [FindingView.model_validate(f) for f in data.pop("findings")]  # type: ignore[attr-defined]
    return VerifyView.model_validate({**data, "findings": findings})


OPERATIONS = [
    Operation(
        "GET",
        "/api/audit/streams",
        "Audit streams with sizes and record counts",
        list_audit_streams,
        StreamList,
        tag="audit",
    ),
    Operation(
        "GET",
        "/api/audit/{stream}",
        "A page of a stream, newest first, with filters",
        read_stream,
        AuditPage,
        query=AuditQuery,
        errors=(404,),
        tag="audit",
    ),
    Operation(
        "POST",
        "/api/audit/{stream}/verify",
        "Check a stream's sequence, hash chain and every line",
        verify_stream,
        VerifyView,
        errors=(404,),
        tag="audit",
    ),
]
