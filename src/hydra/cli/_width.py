"""Fitting the CLI's human output to the terminal: the one place for the width logic.

When stdout is a terminal, or ``COLUMNS`` is set to a positive number (piped or not), each
line of a table or a record is fitted to that width (:func:`output_width`). What gives way,
in this order:

1. the free-text column (a note, a reason, a payload), down to :data:`FREE_MIN` cells;
2. the gaps between columns, down to one space;
3. the soft columns (and the padding of key columns), widest first, down to their floor;
4. the free-text column again, down to its floor.

A cut cell ends with a visible ``…``. Key columns (names, states, seq, action) are never
cut: a terminal narrower than them still gets longer lines. Piped without ``COLUMNS``,
:func:`output_width` is ``None`` and nothing is fitted: lines are as before (long payloads and
table cells keep their old fixed cuts, 160 and :data:`PIPED_CELL_MAX` characters); ``--json``
and ``hydra audit query`` are for machines.

Light on purpose (``hydra audit`` starts fast): ``shutil`` and ``unicodedata`` are imported
only when needed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from typing import Any

ELLIPSIS = "…"
FREE_MIN = 10
"""The free-text column keeps this many cells before anything else gives way."""
SOFT_MIN = 3
"""A soft column is never cut narrower than this (nor than its header)."""
PIPED_CELL_MAX = 60
"""Piped (no width), a table cell is still cut at this length, as it always was."""


def output_width() -> int | None:
    """The width to fit human output to, or ``None`` to print full lines.

    ``COLUMNS`` set to a positive number wins, piped or not (``shutil.get_terminal_size``
    reads it); otherwise the terminal's width when stdout is a terminal; otherwise ``None``.
    """
    try:
        explicit = int(os.environ.get("COLUMNS", "")) > 0
    except ValueError:
        explicit = False
    if not explicit and not _is_terminal():
        return None
    import shutil

    return max(shutil.get_terminal_size().columns, 1)


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: wide (East Asian) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    import unicodedata

    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending with ``…`` when cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - 1  # for the ellipsis
    if text.isascii():
        return text[:room] + ELLIPSIS
    used = 0
    for end, char in enumerate(text):
        used += _char_width(char)
        if used > room:
            return text[:end] + ELLIPSIS
    return text


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` cells (``str.ljust`` counting cells)."""
    return text + " " * (width - display_width(text))


def fit_line(text: str, width: int | None, *, keep: int = 0) -> str:
    """One free-form line cut to ``width`` at its end; its first ``keep`` characters (the key
    part: a name, a status) are never cut. ``width=None``: the line as it is."""
    if width is None:
        return text
    return clip(text, max(width, display_width(text[:keep]) + 1))


def fit_widths(
    natural: Sequence[int],
    floor: Sequence[int],
    gaps: Sequence[int],
    width: int | None,
    *,
    free: int | None = None,
) -> tuple[list[int], list[int]]:
    """Column widths and gaps for a row of columns to fit ``width`` (see the module's order).

    ``natural[i]`` is what column ``i`` takes uncut (padding included), ``floor[i]`` the
    narrowest it may get (a key column's content: only its padding gives way). ``gaps[i]``
    is the space after column ``i``. ``width=None``: the natural widths and gaps.
    """
    widths, spaces = list(natural), list(gaps)
    if width is None:
        return widths, spaces
    over = sum(widths) + sum(spaces) - width

    def shrink(i: int, to: int) -> None:
        nonlocal over
        cut = min(over, widths[i] - to)
        if cut > 0:
            widths[i] -= cut
            over -= cut

    if over > 0 and free is not None:
        shrink(free, max(floor[free], min(natural[free], FREE_MIN)))
    for i in range(len(spaces)):
        if over > 0 and spaces[i] > 1:
            cut = min(over, spaces[i] - 1)
            spaces[i] -= cut
            over -= cut
    soft = [i for i in range(len(widths)) if i != free]
    while over > 0:
        slack = [i for i in soft if widths[i] > floor[i]]
        if not slack:
            break
        widest = max(slack, key=lambda i: (widths[i], i))  # the rightmost of the widest
        widths[widest] -= 1
        over -= 1
    if over > 0 and free is not None:
        shrink(free, floor[free])
    return widths, spaces


def render(cells: Sequence[str], widths: Sequence[int], gaps: Sequence[int]) -> str:
    """The cells cut (``…``) and padded to ``widths``, joined by ``gaps``, right-stripped."""
    parts = []
    for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
        parts.append(pad(clip(cell, w), w))
        if i < len(gaps):
            parts.append(" " * gaps[i])
    return "".join(parts).rstrip()


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    free: str | None = None,
    soft: Collection[str] = (),
) -> None:
    """A plain aligned table (upper-case headers, two spaces between columns).

    ``free`` names the free-text column, ``soft`` the columns that may be cut after it; the
    others are key columns, never cut. Not fitted (piped), cells are still cut at 60
    characters, as they always were.
    """
    limit = output_width()
    cells = [[_cell(v, limit is None) for v in row] for row in rows]
    titles = [h.upper() for h in headers]
    natural = [display_width(t) for t in titles]
    for row in cells:
        for i, value in enumerate(row):
            natural[i] = max(natural[i], display_width(value))
    floor = [
        min(n, max(len(t), SOFT_MIN)) if h == free or h in soft else n
        for h, t, n in zip(headers, titles, natural, strict=True)
    ]
    index = list(headers).index(free) if free is not None else None
    widths, gaps = fit_widths(natural, floor, [2] * (len(headers) - 1), limit, free=index)
    for row in (titles, *cells):
        print(render(row, widths, gaps))


def _cell(value: Any, piped: bool) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if piped and len(text) > PIPED_CELL_MAX:
        return text[: PIPED_CELL_MAX - 3] + "..."
    return text


def fit_row(
    cells: Sequence[str],
    width: int | None,
    *,
    gaps: Sequence[int],
    pad_to: Sequence[int] = (),
    key: Collection[int] = (),
    free: int | None = None,
) -> str:
    """One record as a line of columns, for printers that stream (no table to measure).

    ``pad_to[i]`` is the width column ``i`` is padded to (its content may be longer);
    columns in ``key`` keep their content whole (only their padding gives way), ``free`` is
    the free-text column; the others are soft. ``width=None``: padded, nothing cut.
    """
    natural = [display_width(c) for c in cells]
    for i, target in enumerate(pad_to):
        natural[i] = max(natural[i], target)
    floor = [
        display_width(c) if i in key else min(n, SOFT_MIN)
        for i, (c, n) in enumerate(zip(cells, natural, strict=True))
    ]
    widths, spaces = fit_widths(natural, floor, gaps, width, free=free)
    return render(cells, widths, spaces)
