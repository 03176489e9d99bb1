"""The bundled defaults (sample monitor, live monitor, seeds, sample feeds), found through the
installed package rather than the current folder, so `newsmon` works from any directory.

newsmon is installed editable from its checkout (`make`), and these files ship in the checkout
next to the packages: `config/`, `seeds/`, `samples/`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundle_root() -> Path:
    """The folder holding the installed packages and the bundled `config/`, `seeds/`, `samples/`."""
    return Path(str(files("flows"))).resolve().parent


SAMPLE_MONITOR = bundle_root() / "config" / "sample.yaml"
LIVE_MONITOR = bundle_root() / "config" / "live.yaml"
SAMPLES_DIR = bundle_root() / "samples"
SEEDS_DIR = bundle_root() / "seeds"
#: Port of the bundled sample-feed server unless $NEWSMON_SAMPLE_PORT says otherwise.
DEFAULT_SAMPLE_PORT = 8765
