"""Small text helpers shared by the delivery channels."""

from __future__ import annotations


def snippet(text: str, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
