"""Tests of monitors.dedup_settings: defaults written once, bad values refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitors.dedup_settings import DedupSettings


def test_settings_have_defaults_and_forbid_unknown_fields():
    s = DedupSettings()
    assert s.num_perm % s.lsh_bands == 0
    with pytest.raises(ValidationError):
        DedupSettings(near_min=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DedupSettings(num_perm=30, lsh_bands=8)


def test_a_monitor_file_overrides_one_value_and_keeps_the_other_defaults():
    from monitors.config import parse_config

    cfg = parse_config(
        {
            "name": "m",
            "feeds": [{"name": "a", "url": "http://127.0.0.1:1/feed.xml"}],
            "dedup": {"near_min_score": 90},
        }
    )
    assert cfg.dedup.near_min_score == 90
    defaults = DedupSettings()
    assert cfg.dedup.model_dump(exclude={"near_min_score"}) == defaults.model_dump(
        exclude={"near_min_score"}
    )
    assert defaults.near_min_score == 85.0 and defaults.lsh_bands == 12  # docs/dedup.md
