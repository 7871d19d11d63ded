"""The files of an agent's checkout as a git tree, read without running what the agent controls.

A checkout an agent worked in is the agent's: its ``.git/config`` (or a linked worktree's
``config.worktree``), its hooks, its ``.gitattributes`` may all name commands. Porcelain git
run there (``add``, ``commit``, ``status``, ``checkout``) runs them: a ``filter.<x>.clean``
driver on every file it hashes, ``post-commit`` and other hooks, an fsmonitor daemon. So the
daemon reads the work with plumbing only, every call with :data:`UNTRUSTED` on its command line
(which outranks any file's config):

* the tree the work starts from is read into a scratch index (``GIT_INDEX_FILE``);
* ``ls-files`` lists its entries and the untracked files ``.gitignore`` does not ignore (what
  ``git add -A`` would take), ``exclude`` left out of both, so excluded paths keep the start
  tree's version;
* each listed path is looked at from Python (``lstat``, never through a symlinked directory):
  a regular file is hashed with ``git hash-object --no-filters``, a symlink as its target, a
  missing one is dropped; a submodule entry is kept as it is;
* ``update-index --index-info`` writes the changes, ``write-tree`` the tree.

No clean, smudge or textconv filter runs, so the tree holds the bytes on disk: a repository
that relies on a clean filter (Git LFS, CRLF normalisation) gets its files committed as they
are in the checkout. A nested repository the agent made is not taken (``git add -A`` would add
it as a submodule).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import anyio.to_thread

from hydra.adapters._gitcli import Git
from hydra.adapters._gitpaths import pathspec

__all__ = ["UNTRUSTED", "stage_tree"]

UNTRUSTED: Final = (
    "core.hooksPath=/dev/null",  # no hook runs (reference-transaction, post-index-change…)
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.sparseCheckout=false",  # the operator's worktree may be sparse; no say over this tree
    "core.splitIndex=false",
)
"""Config for every git call the daemon makes in, or over the files of, an agent's checkout."""

_GITLINK: Final = "160000"


async def stage_tree(
    git: Git,
    checkout: Path,
    *,
    start: str,
    exclude: Sequence[str],
    index: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """The tree of ``start`` with the checkout's files over it (``exclude`` keeps ``start``'s
    version), written to the object store git finds from ``checkout`` (or ``env``'s
    ``GIT_DIR``); ``index`` is a scratch index file (see the module docstring)."""
    scratch = {**(env or {}), "GIT_INDEX_FILE": index}

    async def run(args: list[str], stdin: bytes | None = None) -> bytes:
        out = await git.run(args, cwd=checkout, env=scratch, config=UNTRUSTED, stdin=stdin)
        return out.stdout

    await run(["read-tree", start])
    spec = ["--", *pathspec(exclude)]
    cached = await run(["ls-files", "-z", "--stage", "--full-name", *spec])
    others = await run(["ls-files", "-z", "--others", "--exclude-standard", "--full-name", *spec])
    plan = await anyio.to_thread.run_sync(_plan, checkout, cached, others, index)
    if plan.sources:
        listing = "".join(f"{_quoted(source)}\n" for source in plan.sources).encode()
        hashed = await run(["hash-object", "-w", "--no-filters", "--stdin-paths"], listing)
        lines = hashed.decode().split()
        if len(lines) != len(plan.sources):
            raise git.error("failed", f"hash-object hashed {len(lines)} of {len(plan.sources)}")
        for (path, mode), oid in zip(plan.hashed, lines, strict=True):
            if plan.known.get(path) != (mode, oid):
                plan.updates.append(f"{mode} {oid}\t{path}\0")
    if plan.updates:
        info = "".join(plan.updates).encode(errors="surrogateescape")
        await run(["update-index", "-z", "--add", "--remove", "--replace", "--index-info"], info)
    return (await run(["write-tree"])).decode().strip()


class _Plan:
    def __init__(self) -> None:
        self.known: dict[str, tuple[str, str]] = {}
        """``{path: (mode, object id)}`` of the start tree's entries."""
        self.updates: list[str] = []
        """``--index-info`` records: the removals (mode 0) first."""
        self.hashed: list[tuple[str, str]] = []
        """``(path, mode)`` of each file to hash, in the order of ``sources``."""
        self.sources: list[str] = []
        """The file whose bytes are each one's content (a symlink's target: a scratch file)."""


def _plan(checkout: Path, cached: bytes, others: bytes, index: str) -> _Plan:
    """What to hash and what to drop (blocking: ``lstat`` of every listed path)."""
    plan = _Plan()
    real_dirs: dict[str, bool] = {}
    links = Path(index).parent
    for record in _fields(cached):
        meta, _, path = record.partition("\t")
        mode, oid, _stage = meta.split(" ")
        plan.known[path] = (mode, oid)
        if mode == _GITLINK:
            continue  # a submodule: its commit stays what the start tree says
        if not _take(plan, checkout, path, real_dirs, links):
            plan.updates.append(f"0 {'0' * len(oid)}\t{path}\0")
    for path in _fields(others):
        if not path.endswith("/"):  # "dir/": a nested repository, not taken
            _take(plan, checkout, path, real_dirs, links)
    return plan


def _take(plan: _Plan, checkout: Path, path: str, real_dirs: dict[str, bool], links: Path) -> bool:
    """Queue ``path`` for hashing if it is a file or symlink in the checkout itself."""
    parent, _, _ = path.rpartition("/")
    if parent and not _real_dir(checkout, parent, real_dirs):
        return False
    full = checkout / path
    try:
        info = os.lstat(full)
    except OSError:
        return False
    if stat.S_ISREG(info.st_mode):
        plan.hashed.append((path, "100755" if info.st_mode & stat.S_IXUSR else "100644"))
        plan.sources.append(str(full))
    elif stat.S_ISLNK(info.st_mode):
        target = links / f"link-{len(plan.sources)}"
        target.write_bytes(os.fsencode(full.readlink()))
        plan.hashed.append((path, "120000"))
        plan.sources.append(str(target))
    else:
        return False
    return True


def _real_dir(checkout: Path, directory: str, seen: dict[str, bool]) -> bool:
    """``directory`` and each one above it is a directory of the checkout, no symlink."""
    if directory in seen:
        return seen[directory]
    parent, _, _ = directory.rpartition("/")
    real = not parent or _real_dir(checkout, parent, seen)
    if real:
        try:
            real = stat.S_ISDIR(os.lstat(checkout / directory).st_mode)
        except OSError:
            real = False
    seen[directory] = real
    return real


def _fields(raw: bytes) -> list[str]:
    return [part.decode(errors="surrogateescape") for part in raw.split(b"\0") if part]


def _quoted(path: str) -> str:
    """A path for ``--stdin-paths``: C-quoted when a line break or quote would garble it."""
    if not any(ch in path for ch in '\n\r"\\') and path.isprintable():
        return path
    out = []
    for byte in os.fsencode(path):
        if byte in (34, 92):
            out.append("\\" + chr(byte))
        elif byte < 32 or byte >= 127:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'
