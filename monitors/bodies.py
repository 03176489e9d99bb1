"""Reading a streamed response body under a size cap and a deadline, decompressing as it goes.

The cap is measured on the decompressed bytes while they stream, so a gzip bomb stops at the
cap with memory bounded by it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator

import httpx

from monitors.errors import FetchError, FetchTimeout, ResponseTooLarge

#: Decompressed bytes produced per step when inflating gzip/deflate, so a bomb never expands
#: more than this past the size cap in memory.
DECODE_CHUNK = 64 * 1024


def read_body(
    response: httpx.Response,
    *,
    cap: int,
    deadline: float,
    total_timeout: float,
    url: str,
    what: str,
) -> bytes:
    """The decompressed body of a streamed response, stopped at `cap` bytes or at `deadline`."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    declared = response.headers.get("content-length", "")
    limit = f"{cap:,} bytes"
    where = f"{what} {url}"
    if encoding in ("", "identity") and declared.isdigit() and int(declared) > cap:
        raise ResponseTooLarge(
            f"The {where} is {int(declared):,} bytes (Content-Length), over the cap of "
            f"{limit}; raise fetch.max_{what}_bytes if this is a real {what}",
            url=url,
        )
    chunks: Iterator[bytes]
    if encoding in ("gzip", "x-gzip", "deflate"):
        chunks = inflate(response.iter_raw(), encoding)
    elif encoding in ("", "identity"):
        chunks = response.iter_raw()
    else:  # an encoding we did not ask for: let httpx decode it (or fail)
        chunks = response.iter_bytes()
    buf = bytearray()
    try:
        for chunk in chunks:
            buf += chunk
            if len(buf) > cap:
                raise ResponseTooLarge(
                    f"The {where} is larger than the cap of {limit} after decompression "
                    f"(stopped at {len(buf):,}); raise fetch.max_{what}_bytes if this is a "
                    f"real {what}",
                    url=url,
                )
            if time.monotonic() > deadline:
                raise FetchTimeout(
                    f"Total deadline of {total_timeout:g}s exceeded while downloading "
                    f"{where} ({len(buf):,} bytes so far); the server is too slow; "
                    "it will be retried",
                    url=url,
                )
    except (zlib.error, httpx.DecodingError) as exc:
        raise FetchError(
            f"Could not decompress the {where} ({encoding}): {exc}; the server sent a "
            "corrupt body; it will be retried",
            url=url,
        ) from None
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return bytes(buf)


def inflate(raw_chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Decompress gzip/deflate incrementally, at most DECODE_CHUNK bytes per step."""
    gzip = encoding != "deflate"
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    first = True
    for raw in raw_chunks:
        data = raw
        if first and not gzip and data:
            first = False
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate
            if (data[0] & 0x0F) != 8 or len(data) < 2 or (data[0] * 256 + data[1]) % 31:
                d = zlib.decompressobj(-zlib.MAX_WBITS)
        while data:
            out = d.decompress(data, DECODE_CHUNK)
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                if data and gzip:  # the next member of a multi-member gzip body
                    d = zlib.decompressobj(wbits)
                    continue
                break
            data = d.unconsumed_tail
            while not data and len(out) == DECODE_CHUNK:  # drain output zlib still holds
                out = d.decompress(b"", DECODE_CHUNK)
                if out:
                    yield out
    if not d.eof:
        tail = d.flush()
        if tail:
            yield tail
