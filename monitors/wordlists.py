"""Data files bundled with the package (`monitors/data/`): word lists and the default taxonomy.

Word lists are plain text, one entry a line, `#` starting a comment. Each file is read once.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


def read_data_file(name: str) -> str:
    """The text of `monitors/data/<name>` (installed with the package)."""
    try:
        return resources.files("monitors").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"bundled data file monitors/data/{name} is missing; reinstall newsmon "
            "(`make .venv/bin/.installed`) or restore the file from the repository"
        ) from None


@cache
def load_word_list(name: str) -> frozenset[str]:
    """The entries of the word list `monitors/data/<name>` (comments and blank lines dropped)."""
    words = (line.split("#", 1)[0].strip() for line in read_data_file(name).splitlines())
    return frozenset(w for w in words if w)


@cache
def load_word_pairs(name: str) -> dict[str, str]:
    """The `variant canonical` pairs of `monitors/data/<name>`, one pair a line."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(read_data_file(name).splitlines(), start=1):
        entry = line.split("#", 1)[0].split()
        if not entry:
            continue
        if len(entry) != 2:
            raise ValueError(f"monitors/data/{name}:{number}: expected `variant canonical`")
        pairs[entry[0]] = entry[1]
    return pairs
