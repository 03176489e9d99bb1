"""Shards of a monitor: the K/N syntax, its error, and which feeds each shard polls."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitors.config import MonitorConfig, parse_config
from monitors.errors import NewsmonError
from monitors.shard import Shard, ShardError, parse_shard

REPO = Path(__file__).resolve().parents[2]


def monitor(feeds: list[str]) -> MonitorConfig:
    return parse_config(
        {
            "name": "shards",
            "seeds": str(REPO / "seeds"),
            "feeds": [{"name": n, "url": f"http://127.0.0.1:9/{n}.xml"} for n in feeds],
        }
    )


@pytest.mark.parametrize(
    ("text", "shard"),
    [("1/2", Shard(1, 2)), (" 2 / 2 ", Shard(2, 2)), ("1/1", Shard(1, 1)), ("3/7", Shard(3, 7))],
)
def test_parse_k_of_n(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_shard_means_every_feed(text: str | None) -> None:
    assert parse_shard(text) is None


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", "1.5/2"])
def test_a_bad_shard_names_the_input_and_the_remedy(text: str) -> None:
    with pytest.raises(ShardError) as err:
        parse_shard(text)
    message = str(err.value)
    assert repr(text) in message  # the input
    assert "K/N with 1 <= K <= N" in message and '"1/2"' in message  # the form, an example
    assert "leave it out to poll every feed" in message  # the other remedy
    assert isinstance(err.value, NewsmonError)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("n_feeds", [1, 5, 6, 7])
def test_every_feed_in_exactly_one_shard_and_shares_balanced(count: int, n_feeds: int) -> None:
    names = [f"feed-{i}" for i in range(n_feeds)]
    cfg = monitor(names)
    shares = [Shard(k, count).feed_names(cfg) for k in range(1, count + 1)]
    assert sorted(n for share in shares for n in share) == sorted(names)
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1


def test_shard_is_position_in_the_file_modulo_n_and_appending_moves_nothing() -> None:
    cfg = monitor(["a", "b", "c", "d", "e"])
    assert Shard(1, 2).feed_names(cfg) == ["a", "c", "e"]
    assert Shard(2, 2).feed_names(cfg) == ["b", "d"]
    longer = monitor(["a", "b", "c", "d", "e", "f"])
    assert Shard(1, 2).feed_names(longer) == ["a", "c", "e"]
    assert Shard(2, 2).feed_names(longer) == ["b", "d", "f"]
