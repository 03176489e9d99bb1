"""Near-duplicate detection against the seed corpus and stored articles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DedupSettings(BaseModel):
    """Thresholds of duplicate detection; `dedup:` in a monitor file."""

    model_config = ConfigDict(extra="forbid")
