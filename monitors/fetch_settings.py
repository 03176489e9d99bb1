"""Limits and politeness of fetching (`fetch:` in a monitor file)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FetchSettings(BaseModel):
    """Limits and politeness of the fetcher; `fetch:` in a monitor file."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(20.0, gt=0, description="seconds between two bytes")
    total_timeout: float = Field(60.0, gt=0, description="deadline for one request, seconds")
    max_feed_bytes: int = Field(10_000_000, gt=0)
    max_page_bytes: int = Field(5_000_000, gt=0)
    max_redirects: int = Field(5, ge=0)
    user_agent: str = "newsmon/0.1 (+{contact_url})"
    contact_url: str = "https://github.com/newsmon/newsmon"
    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDR networks article links may resolve to despite the SSRF guard",
    )
    per_host_concurrency: int = Field(
        2, ge=1, le=16, description="requests in flight to one host at a time (politeness)"
    )
    force_full_fetch_every: int = Field(
        10,
        ge=1,
        description="every Nth poll of a feed ignores ETag/Last-Modified (servers get them wrong)",
    )
    stream_chunk: int = Field(
        1000,
        ge=1,
        description="articles processed per step of a streaming pass; a pass with no more new "
        "articles is processed as one batch",
    )
    stream_queue: int = Field(
        32, ge=1, description="fetched pages waiting for extraction at most (bounds the memory)"
    )
    max_backoff_minutes: float = Field(
        360.0, gt=0, description="longest wait after repeated failures (6 h: 4 tries a day)"
    )
    max_cache_minutes: float = Field(
        240.0,
        gt=0,
        description="longest Cache-Control max-age honoured; a year-long max-age must not "
        "silence a news feed",
    )
    max_retry_after_minutes: float = Field(
        1440.0, gt=0, description="longest Retry-After honoured (a day)"
    )

    @field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"not a CIDR network like '10.0.0.0/8': {net!r}") from None
        return v
