"""The newsmon exception hierarchy.

Every message names the failure, the input (feed, URL, file, channel) and, where there is one,
what to do about it, in the style of httpx's exceptions.
"""

from __future__ import annotations


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""


class ConfigError(NewsmonError):
    """A monitor file cannot be read or does not validate; nothing has been done yet."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: invalid monitor configuration\n{lines}")


class FetchError(NewsmonError):
    """An HTTP fetch of a feed or page failed. `url` is what was requested."""

    #: True when the same request may succeed later (timeouts, 5xx, 429).
    transient: bool = True

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


class FetchTimeout(FetchError):
    """Connect, read or total deadline exceeded."""


class ConnectFailed(FetchError):
    """The connection could not be opened (refused, DNS failure, TLS error)."""


class ResponseTooLarge(FetchError):
    """The body (after decompression) exceeded the configured cap."""

    transient = False


class BlockedAddress(FetchError):
    """The URL resolves to an address newsmon refuses to contact (SSRF guard) or a bad scheme."""

    transient = False


class TooManyRedirects(FetchError):
    """A redirect chain was longer than allowed, or looped."""

    transient = False


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after
        self.transient = status == 429 or status >= 500


class FeedParseError(FetchError):
    """The body is not a usable RSS/Atom feed (malformed, hostile, or HTML)."""

    transient = False


class ExtractionError(NewsmonError):
    """Full-text extraction of a page failed or timed out; the feed summary is used instead."""


class DeliveryError(NewsmonError):
    """An alert could not be delivered on a channel."""

    transient: bool = True

    def __init__(self, message: str, *, channel: str, retry_after: float | None = None) -> None:
        self.channel = channel
        self.retry_after = retry_after
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Delivery may succeed later: connection refused, timeout, 5xx, 429, SMTP 4xx."""

    transient = True


class PermanentDeliveryError(DeliveryError):
    """Delivery will not succeed by retrying: Slack 4xx other than 429, SMTP 5xx, bad address."""

    transient = False
