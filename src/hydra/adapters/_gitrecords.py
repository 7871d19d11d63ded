"""What git does not know about a local change request, kept in the repository itself.

A change request of the ``local`` world is a branch; its title, body, base, when it was
opened, the latest approve/veto verdict and how it was merged are a small JSON blob that
``refs/hydra/changes/<branch>`` points at. Refs give what a record store needs: an atomic
compare-and-swap update (``git update-ref <ref> <new> <old>``), one-call listing
(``git for-each-ref``), no extra files beside the repository, and no effect on the operator's
branches, history or ``git log``. A record outlives its branch: a deleted branch whose change
was never merged reads as ``closed``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from hydra.adapters._gitcli import Git

REF_PREFIX: Final = "refs/hydra/changes/"
_SCHEMA: Final = 1
_FORMAT: Final = "--format=%(objectname)%00%(refname)%00%(raw)"

Gate = Literal["approve", "veto"]


@dataclass(frozen=True)
class Merged:
    commit: str
    """The merge commit."""
    base: str
    """The base branch's commit it was merged onto (first parent)."""
    head: str
    """The change's head that was merged (second parent)."""


@dataclass(frozen=True)
class ChangeRecord:
    branch: str
    base: str
    title: str
    body: str
    author: str
    opened_at: str
    """UTC, ISO 8601: orders the open list."""
    verdict: Gate | None = None
    """The latest approve/veto (comments leave it alone); ``veto`` blocks the merge."""
    merged: Merged | None = None
    oid: str = ""
    """The blob this record was read from (``""``: not stored yet); the update's expectation."""

    def encode(self) -> bytes:
        data = asdict(self)
        del data["oid"]
        return json.dumps({"v": _SCHEMA, **data}, sort_keys=True, ensure_ascii=False).encode()


def _decode(raw: str, oid: str) -> ChangeRecord | None:
    try:
        data: dict[str, Any] = json.loads(raw)
        merged = data.get("merged")
        return ChangeRecord(
            branch=str(data["branch"]),
            base=str(data["base"]),
            title=str(data["title"]),
            body=str(data.get("body", "")),
            author=str(data.get("author", "")),
            opened_at=str(data["opened_at"]),
            verdict=data["verdict"] if data.get("verdict") in ("approve", "veto") else None,
            merged=Merged(**merged) if isinstance(merged, dict) else None,
            oid=oid,
        )
    except (ValueError, KeyError, TypeError):
        return None  # not a record of ours: ignored, like any other foreign ref


class RecordStore:
    """Change records of the repository at ``repo``."""

    def __init__(self, git: Git, repo: Path) -> None:
        self._git = git
        self._repo = repo

    async def all(self) -> list[ChangeRecord]:
        return await self._read(REF_PREFIX)

    async def get(self, branch: str) -> ChangeRecord | None:
        ref = REF_PREFIX + branch
        found = [r for r in await self._read(ref) if REF_PREFIX + r.branch == ref]
        return found[0] if found else None

    async def put(self, record: ChangeRecord) -> ChangeRecord | None:
        """Store ``record`` if the stored one is still ``record.oid``; ``None`` if it moved."""
        blob = await self._git.run(
            ["hash-object", "-w", "--stdin"], cwd=self._repo, stdin=record.encode()
        )
        oid = blob.text()
        update = ["update-ref", "-m", "hydra: change record", REF_PREFIX + record.branch, oid]
        done = await self._git.run([*update, record.oid], cwd=self._repo, ok=(0, 128))
        if done.code == 0:
            return replace(record, oid=oid)
        if "cannot lock ref" in done.stderr:  # someone else updated (or created) it first
            return None
        raise self._git.error(
            "failed", f"cannot store the record of {record.branch!r}: {done.stderr}"
        )

    async def _read(self, pattern: str) -> list[ChangeRecord]:
        out = await self._git.run(["for-each-ref", _FORMAT, pattern], cwd=self._repo)
        records = []
        for line in out.stdout.split(b"\n"):
            oid, _, rest = line.decode(errors="replace").partition("\0")
            ref, _, raw = rest.partition("\0")
            record = _decode(raw, oid) if ref.startswith(REF_PREFIX) else None
            if record is not None and REF_PREFIX + record.branch == ref:
                records.append(record)
        return records
