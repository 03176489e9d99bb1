"""Shards of one monitor: several runs, each polling a share of the monitor's feeds.

A shard is written `K/N` (the K-th of N, 1 <= K <= N). Shard K/N owns the feeds at positions
K-1, K-1+N, K-1+2N, ... of the monitor file's `feeds:` list (disabled feeds keep their place).
Position rather than a hash of the name: the shares differ by at most one feed whatever the
names (a hash splits 6 feeds 4/2 or 5/1 as often as 3/3), and the rule is stable while the list
is only appended to. Inserting or reordering feeds moves some feeds to another shard; that is
harmless (a feed's state is in the database, not in the shard), it only changes which run polls
it next. Every run of every shard must use the same monitor file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitors.config import MonitorConfig
from monitors.errors import NewsmonError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(NewsmonError):
    """A shard is not of the form K/N with 1 <= K <= N."""


@dataclass(frozen=True)
class Shard:
    """The K-th of N shards of a monitor (`index` counts from 1)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, position: int) -> bool:
        """Whether the feed at `position` (from 0) of the monitor file's list is this shard's."""
        return position % self.count == self.index - 1

    def feed_names(self, cfg: MonitorConfig) -> list[str]:
        """The names of this shard's feeds, in the order of the monitor file."""
        return [f.name for i, f in enumerate(cfg.feeds) if self.owns(i)]


def parse_shard(value: str | None) -> Shard | None:
    """`"K/N"` as a Shard; None or "" is no shard (the run polls every feed)."""
    if value is None or not str(value).strip():
        return None
    m = _SHARD.fullmatch(str(value))
    if m is None or not 1 <= int(m[1]) <= int(m[2]):
        raise ShardError(
            f"shard {value!r} is not a shard of a monitor: write it K/N with 1 <= K <= N "
            '(e.g. "1/2" and "2/2" for two runs sharing the feeds), or leave it out to poll '
            "every feed in one run"
        )
    return Shard(int(m[1]), int(m[2]))
