"""The HTTP client of feeds and article pages, with hard limits (see FetchSettings).

One `Fetcher` is shared by every feed of a run (it is thread-safe). Every request has a connect
timeout, a read timeout, a total deadline that also bounds streaming, and a size cap measured on
the decompressed body while it streams (a gzip bomb stops at the cap, with memory bounded by the
cap). Redirects are followed by hand so each hop is checked: scheme (http/https only), loops,
count, and for untrusted hops the SSRF guard (`monitors.ssrf`). Feed URLs are written by the user
in the monitor file, so a feed's own host is trusted (a feed on an intranet host works); but once
a feed redirects to a different host the rest of the chain is untrusted and guarded like a page.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from monitors.bodies import read_body
from monitors.errors import (
    BlockedAddress,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from monitors.fetch_settings import FetchSettings
from monitors.retry import parse_retry_after
from monitors.ssrf import GuardedBackend, IPNetwork, PooledTransport, RefusedAddress, set_deadline

Kind = Literal["feed", "page"]

#: A socket timeout this close to the request's deadline is reported as the deadline (seconds).
DEADLINE_SLACK = 0.05

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5",
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
}


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A successful (2xx or 304) response, after redirects, with the decompressed body."""

    requested_url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    permanent_redirect: str | None
    elapsed: float
    bytes_received: int


def _status_advice(status: int) -> str:
    if status == 429:
        return "the server is rate-limiting newsmon; it will retry later"
    if status >= 500:
        return "server error; it will be retried with backoff"
    if status in (401, 403):
        return "the server refuses access; check the URL or whether it needs a login"
    if status in (404, 410):
        return "check the URL"
    return "check the URL"


class Fetcher:
    """Thread-safe HTTP client shared by every feed and page of a run.

    `get` follows redirects itself, enforces the limits of `FetchSettings`, caps concurrency
    per host, and raises the `FetchError` subclasses. Counters `requests` (HTTP requests sent,
    every redirect hop counts) and `bytes_received` (body bytes as received on the wire).
    """

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        allowed: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in s.allow_networks]
        self.user_agent = s.user_agent.format(contact_url=s.contact_url)
        common: dict[str, Any] = {
            "headers": {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            "timeout": httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                pool=s.total_timeout,
            ),
            "follow_redirects": False,
            "trust_env": False,  # no proxy from the environment: the SSRF guard must see hosts
        }
        tls = httpx.create_ssl_context(trust_env=False)
        self._trusted = httpx.Client(transport=PooledTransport(GuardedBackend(None), tls), **common)
        self._guarded = httpx.Client(
            transport=PooledTransport(GuardedBackend(allowed), tls), **common
        )
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._requests = 0
        self._bytes = 0

    # counters ----------------------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """True the first time `key` (e.g. a page URL) is claimed on this fetcher, then False.

        Feeds polled concurrently in one run use it so an entry listed by several feeds has
        its page downloaded once.
        """
        with self._lock:
            if key in self._claimed:
                return False
            self._claimed.add(key)
            return True

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (each redirect hop counts)."""
        with self._lock:
            return self._requests

    @property
    def bytes_received(self) -> int:
        """Body bytes received so far, as sent on the wire (before decompression)."""
        with self._lock:
            return self._bytes

    # lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection."""
        self._trusted.close()
        self._guarded.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # politeness --------------------------------------------------------------------------
    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = threading.BoundedSemaphore(
                    self.settings.per_host_concurrency
                )
        # No timeout on the wait: every holder is bounded by its own deadline, so the wait is
        # bounded too, and a queue of links to one busy host must not fail for being a queue.
        slot.acquire()
        try:
            yield
        finally:
            slot.release()

    # requests ----------------------------------------------------------------------------
    def get(self, url: str, *, kind: Kind, headers: dict[str, str] | None = None) -> FetchResponse:
        """GET `url` as a feed or an article page, following redirects under the limits.

        Returns a FetchResponse for 2xx and 304; raises HTTPStatusError for 4xx/5xx,
        FetchTimeout, ConnectFailed, ResponseTooLarge, TooManyRedirects or BlockedAddress.
        """
        s = self.settings
        cap = s.max_feed_bytes if kind == "feed" else s.max_page_bytes
        start = time.monotonic()
        deadline: float | None = None  # starts once the first host slot is held
        what = "feed" if kind == "feed" else "page"
        request_headers = {"Accept": _ACCEPT[kind], **(headers or {})}
        origin = (urlsplit(url).hostname or "").lower()
        current = url
        seen = {self._key(url)}
        permanent: str | None = None
        leading_permanent = True
        received = 0
        for _hop in range(s.max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in ("http", "https"):
                raise BlockedAddress(
                    f"Refusing to fetch {what} {current} (requested as {url}): scheme "
                    f"{scheme or '(none)'!r} is not http or https",
                    url=url,
                )
            host = (urlsplit(current).hostname or "").lower()
            guarded = kind == "page" or host != origin
            client = self._guarded if guarded else self._trusted
            hop_headers = request_headers
            if host != origin:  # credentials and cookies never follow a redirect off-host
                hop_headers = {
                    k: v
                    for k, v in request_headers.items()
                    if k.lower() not in ("authorization", "cookie")
                }
            with self._host_slot(host):
                if deadline is None:
                    deadline = time.monotonic() + s.total_timeout
                status, resp_headers, body, raw = self._one(
                    client, current, hop_headers, cap=cap, deadline=deadline, url=url, what=what
                )
            received += raw
            location = resp_headers.get("location")
            if status in _REDIRECTS and location:
                target = str(httpx.URL(current).join(location))
                if self._key(target) in seen:
                    raise TooManyRedirects(
                        f"Redirect loop fetching {what} {url}: {current} redirects back to "
                        f"{target}; the server is misconfigured; check the URL",
                        url=url,
                    )
                seen.add(self._key(target))
                if status in _PERMANENT and leading_permanent:
                    permanent = target
                else:
                    leading_permanent = False
                current = target
                continue
            if status >= 400:
                retry_after = parse_retry_after(resp_headers.get("retry-after"))
                phrase = _reason(status)
                raise HTTPStatusError(
                    f"HTTP {status} {phrase} from {current} fetching {what} {url}; "
                    f"{_status_advice(status)}",
                    url=url,
                    status=status,
                    retry_after=retry_after,
                )
            return FetchResponse(
                requested_url=url,
                final_url=current,
                status=status,
                headers=resp_headers,
                content=body,
                permanent_redirect=permanent,
                elapsed=time.monotonic() - start,
                bytes_received=received,
            )
        raise TooManyRedirects(
            f"More than {s.max_redirects} redirects fetching {what} {url} (last: {current}); "
            "check the URL",
            url=url,
        )

    @staticmethod
    def _key(url: str) -> str:
        try:
            return str(httpx.URL(url)).rstrip("/")
        except httpx.InvalidURL:
            return url

    def _one(
        self,
        client: httpx.Client,
        current: str,
        headers: dict[str, str],
        *,
        cap: int,
        deadline: float,
        url: str,
        what: str,
    ) -> tuple[int, dict[str, str], bytes, int]:
        """One request without redirects: (status, lowercased headers, body, raw bytes)."""
        s = self.settings
        remaining = deadline - time.monotonic()
        via = "" if current == url else f" (redirected from {url})"
        if remaining <= 0:
            raise FetchTimeout(
                f"Total deadline of {s.total_timeout:g}s exceeded fetching {what} {current}{via} "
                "before the last redirect; the server is too slow; it will be retried",
                url=url,
            )
        try:
            request = client.build_request(
                "GET",
                current,
                headers=headers,
                timeout=httpx.Timeout(
                    connect=min(s.connect_timeout, remaining),
                    read=min(s.read_timeout, remaining),
                    write=min(s.read_timeout, remaining),
                    pool=remaining,
                ),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            err = FetchError(f"Invalid URL {current!r} for {what} {url}: {exc}", url=url)
            err.transient = False
            raise err from None
        with self._lock:
            self._requests += 1
        set_deadline(deadline)
        response: httpx.Response | None = None
        try:
            response = client.send(request, stream=True)
            status = response.status_code
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            body = b""
            if 200 <= status < 300 and status != 204:
                body = read_body(
                    response,
                    cap=cap,
                    deadline=deadline,
                    total_timeout=s.total_timeout,
                    url=url,
                    what=what,
                )
            return status, resp_headers, body, response.num_bytes_downloaded
        except RefusedAddress as exc:
            why = (
                "newsmon does not contact internal addresses for article links"
                if what == "page"
                else "a feed that redirects off its own host is treated like an article link"
            )
            raise BlockedAddress(
                f"Refusing to fetch {what} {current}{via}: {exc}; {why} (add the network to "
                "fetch.allow_networks if this is intended)",
                url=url,
            ) from None
        except httpx.TimeoutException as exc:
            past_deadline = time.monotonic() >= deadline - DEADLINE_SLACK
            raise self._timeout(
                exc, current=current, via=via, what=what, url=url, past_deadline=past_deadline
            ) from None
        except httpx.ConnectError as exc:
            host = urlsplit(current).hostname
            raise ConnectFailed(
                f"Could not connect to {host} fetching {what} {current}{via}: {exc or 'refused'}; "
                "check the URL; if the site is up, it will be retried",
                url=url,
            ) from None
        except httpx.TransportError as exc:
            raise FetchError(
                f"Connection error fetching {what} {current}{via}: "
                f"{type(exc).__name__}: {exc}; it will be retried",
                url=url,
            ) from None
        finally:
            set_deadline(None)
            if response is not None:
                with self._lock:
                    self._bytes += response.num_bytes_downloaded
                response.close()

    def _timeout(
        self,
        exc: httpx.TimeoutException,
        *,
        current: str,
        via: str,
        what: str,
        url: str,
        past_deadline: bool,
    ) -> FetchTimeout:
        s = self.settings
        if past_deadline or "total deadline" in str(exc):
            cause = f"total deadline of {s.total_timeout:g}s exceeded"
        elif isinstance(exc, httpx.ConnectTimeout):
            cause = f"could not connect within {s.connect_timeout:g}s"
        elif isinstance(exc, httpx.PoolTimeout):
            cause = "no free connection in the pool"
        else:
            cause = f"no data for {s.read_timeout:g}s"
        return FetchTimeout(
            f"Timed out fetching {what} {current}{via}: {cause}; the server is slow or "
            "unreachable; it will be retried",
            url=url,
        )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
