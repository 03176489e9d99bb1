"""Output of the `newsmon` command line: tables, JSON, timestamps, and errors with exit statuses.

Exit statuses (README "Exit status"): 0 done; 1 the work failed (a fetch, a delivery);
2 a bad monitor file or bad arguments, nothing done; 3 an unknown id (`alerts retry 999`);
4 a resource is unavailable (a busy port, no Prefect server); 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4
EXIT_PARTIAL = 5  # a pass completed, but some due feeds failed


class CliError(Exception):
    """An error the CLI reports as one line plus a remedy, with a documented exit status."""

    def __init__(self, message: str, *, remedy: str = "", status: int = EXIT_FAILED) -> None:
        self.message = message
        self.remedy = remedy
        self.status = status
        super().__init__(message)

    def render(self) -> str:
        """`newsmon: <message>` and, when there is one, an indented remedy line."""
        out = f"newsmon: {self.message}\n"
        return out + (f"  {self.remedy}\n" if self.remedy else "")


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 in UTC with seconds (`2024-09-12T08:30:00Z`); naive datetimes are UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return value.isoformat()
    dt = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return dt.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def iso_short(value: datetime | None) -> str:
    """ISO 8601 to the minute for tables (`2024-09-12T08:30Z`), `-` when missing."""
    text = iso(value)
    return "-" if text is None else text[:16] + "Z"


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO 8601 UTC, paths as strings, containers recursively."""
    if isinstance(value, datetime | date):
        return iso(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print `value` as indented JSON (UTF-8, ISO 8601 timestamps) on standard output."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")


def terminal_width() -> int:
    """Columns of the terminal ($COLUMNS first); 120 when not a terminal."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 120


def print_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    wrap: Iterable[str] = (),
    optional: Iterable[str] = (),
    empty: str = "nothing to show",
    width: int | None = None,
) -> None:
    """A table that fits the terminal: columns in `wrap` wrap at word boundaries (never
    mid-word), columns in `optional` are left out, in that order, while it would not fit.

    With no rows it prints `empty` (what is missing and how to get some) instead of a bare header.
    """
    if not rows:
        print(f"({empty})")
        return
    print(render_table(rows, headers, wrap=wrap, optional=optional, width=width))


def render_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    wrap: Iterable[str] = (),
    optional: Iterable[str] = (),
    width: int | None = None,
) -> str:
    """The text of `print_table` (see there) for a terminal `width` columns wide."""
    total = width or terminal_width()
    wrapped, drop = set(wrap), list(optional)
    keep = list(range(len(headers)))
    min_wrap = 16

    def _natural(i: int) -> int:
        return max(len(headers[i]), *(len(str(r[i])) for r in rows))

    def _needed(cols: list[int]) -> int:
        fixed = sum(_natural(i) for i in cols if headers[i] not in wrapped)
        flex = sum(min(_natural(i), min_wrap) for i in cols if headers[i] in wrapped)
        return fixed + flex + 2 * (len(cols) - 1)

    while _needed(keep) > total and drop:
        name = drop.pop(0)
        keep = [i for i in keep if headers[i] != name]
    widths = {i: _natural(i) for i in keep}
    flex_cols = [i for i in keep if headers[i] in wrapped]
    spare = total - sum(widths[i] for i in keep if i not in flex_cols) - 2 * (len(keep) - 1)
    if flex_cols and sum(widths[i] for i in flex_cols) > spare:
        share = max(min_wrap, spare // len(flex_cols))
        for i in flex_cols:
            widths[i] = min(widths[i], share)
        rest = spare - sum(widths[i] for i in flex_cols)
        for i in flex_cols:  # hand what is left to the columns that still want it
            extra = min(max(rest, 0), _natural(i) - widths[i])
            widths[i] += extra
            rest -= extra

    def _cells(row: Sequence[str]) -> list[list[str]]:
        out = []
        for i in keep:
            text = " ".join(str(row[i]).split()) if headers[i] in wrapped else str(row[i])
            lines = (
                textwrap.wrap(text, widths[i], break_long_words=False, break_on_hyphens=False)
                if headers[i] in wrapped
                else [text]
            )
            out.append(lines or [""])
        return out

    def _fmt(parts: list[str]) -> str:
        return "  ".join(p.ljust(widths[i]) for i, p in zip(keep, parts, strict=True)).rstrip()

    out = [_fmt([headers[i] for i in keep]), _fmt(["-" * widths[i] for i in keep])]
    for row in rows:
        cols = _cells(row)
        for n in range(max(len(c) for c in cols)):
            out.append(_fmt([c[n] if n < len(c) else "" for c in cols]))
    return "\n".join(out)


def quiet_broken_pipe() -> None:
    """After stdout's reader went away (`newsmon … | head`): no traceback, no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
