"""The fetcher's network layer: the SSRF guard and per-request deadlines on every socket.

Article links come from third-party feeds, so every connection made for them goes through
`GuardedBackend`, which resolves the host itself, refuses loopback, private, link-local
(169.254.169.254, the cloud metadata address), CGNAT, unique-local, unspecified, multicast and
reserved addresses unless they are in `allow_networks`, and then connects to the address it
vetted (so a DNS answer cannot change between check and connect). Every read and write of every
socket also stops at the deadline of the request the thread is making (`set_deadline`).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Total connections the shared client keeps; per-host politeness is `per_host_concurrency`.
MAX_CONNECTIONS = 32
#: Idle keep-alive connections kept, and for how long (seconds).
MAX_KEEPALIVE = 16
KEEPALIVE_SECONDS = 30.0

# The deadline (time.monotonic) of the request the current thread is making, read by the
# network streams on every socket operation.
_local = threading.local()


def set_deadline(deadline: float | None) -> None:
    """Bound every socket operation of this thread by `deadline` (time.monotonic), or stop."""
    _local.deadline = deadline


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_problem(ip: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why newsmon refuses to connect to `ip` for an untrusted URL, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded, allowed)
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address (cloud metadata services live here)"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT) address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private network address"
    if not ip.is_global:
        return "non-public address"
    return None


class RefusedAddress(Exception):
    """Raised by the guarded backend; turned into BlockedAddress with the URL by the Fetcher."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        shown = f"{host} is" if host.strip("[]") == address else f"{host} resolves to {address},"
        super().__init__(f"{shown} a {reason}")


def _clip(timeout: float | None, exc: type[Exception]) -> float | None:
    """The socket timeout to use now: the given one, shortened to the request's deadline."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc("total deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write also stops at the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        t = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, t))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend: deadline-bounded sockets, optionally SSRF-guarded connects."""

    def __init__(self, allowed: list[IPNetwork] | None) -> None:
        self._inner = httpcore.SyncBackend()
        self._allowed = allowed  # None: unguarded

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clip(timeout, httpcore.ConnectTimeout)
        if self._allowed is None:
            inner = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return _DeadlineStream(inner)
        last: Exception | None = None
        for address in self._vetted(host, port):
            try:
                inner = self._inner.connect_tcp(
                    address, port, _clip(timeout, httpcore.ConnectTimeout), local_address,
                    socket_options,
                )  # fmt: skip
                return _DeadlineStream(inner)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    def _vetted(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            reason = address_problem(ipaddress.ip_address(address), self._allowed or ())
            if reason is not None:
                raise RefusedAddress(host, address, reason)
            if address not in addresses:
                addresses.append(address)
        return addresses

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by newsmon")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PooledTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool that uses our network backend.

    HTTPTransport's methods only use `self._pool`; its __init__ is not called because it would
    build (and load certificates for) a pool that is thrown away.
    """

    def __init__(self, backend: GuardedBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=backend,
        )
