"""HTTP fetching of feeds and article pages with hard limits (see FetchSettings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
