"""How a pass ended, for the flow-run state, the report headline and `newsmon run`'s exit status.

| exit | state                        | meaning                                               |
|------|------------------------------|-------------------------------------------------------|
| 0    | Completed                    | every due feed was polled (or none was due)           |
| 3    | Completed, named `Partial`   | some due feeds failed; the others were processed      |
| 1    | Failed                       | every due feed failed, or the run itself failed       |
| 2    | (no run)                     | the monitor file, seeds or database failed validation |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flows.cli_output import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL
from flows.cli_output import EXIT_USAGE as EXIT_INVALID
from monitors.errors import NewsmonError

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "EXIT_PARTIAL", "PARTIAL_STATE", "judge"]
#: name of the Completed state of a pass where some feeds failed
PARTIAL_STATE = "Partial"


@dataclass(frozen=True)
class Verdict:
    """How a pass ended: `ok`, `partial` or `failed`, a one-line headline and the exit status."""

    status: Literal["ok", "partial", "failed"]
    headline: str
    exit_code: int


class PassFailed(NewsmonError):
    """Every due feed failed: the pass ends Failed (the summary is kept on the exception)."""

    def __init__(self, headline: str, summary: dict[str, Any]) -> None:
        self.summary = summary
        super().__init__(headline)


def judge(summary: dict[str, Any]) -> Verdict:
    """The verdict on a pass from its summary (feeds polled and failed)."""
    polled = int(summary.get("feeds_polled", 0))
    failed = dict(summary.get("feeds_failed", {}))
    names = ", ".join(sorted(failed))
    crashed = len(summary.get("crashed_runs") or [])
    note = f"; {crashed} earlier run(s) had crashed and were picked up" if crashed else ""
    if polled and len(failed) >= polled:
        return Verdict(
            "failed",
            f"pass FAILED: every due feed failed ({len(failed)} of {polled}: {names}){note}",
            EXIT_FAILED,
        )
    if failed:
        return Verdict(
            "partial",
            f"pass completed with failures: {len(failed)} of {polled} due feeds failed "
            f"({names}){note}",
            EXIT_PARTIAL,
        )
    return Verdict("ok", f"pass completed: {polled} feed(s) polled, none failed{note}", EXIT_OK)
