"""Delivery: the file outbox, digests and quiet hours; the channels live in `send_*` modules.

Every sender either returns (delivered) or raises `TransientDeliveryError` (retry later, maybe
after `retry_after` seconds) or `PermanentDeliveryError` (retrying will not help; the message
says what to change). The outbox state machine that calls them lives in `pipeline.outbox`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

from monitors.alerts import AlertContent, render_text
from monitors.errors import PermanentDeliveryError, TransientDeliveryError
from monitors.send_apprise import AppriseSender
from monitors.send_email import SmtpSender
from monitors.send_slack import SlackSender
from monitors.send_webhook import WebhookSender

__all__ = [
    "AppriseSender",
    "FileOutbox",
    "SlackSender",
    "SmtpSender",
    "WebhookSender",
    "in_quiet_hours",
    "render_digest",
]


# --- file outbox -----------------------------------------------------------------------------
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")
_STAMP_LEN = len("20240101T000000")


def _safe_key(key: str) -> str:
    safe = _SAFE_KEY.sub("_", key).strip("._") or "alert"
    if safe != key or len(safe) > 80:
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]
        safe = f"{safe[:80]}-{digest}"
    return safe


def _atomic_write(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileOutbox:
    """Writes each alert as `<dir>/<YYYYmmddTHHMMSS>-<safe key>.txt` (text) and `.json` (payload).

    The timestamp is the alert's `created_at` in UTC; a later send with the same key overwrites
    the files already written for that key, whatever their timestamp (idempotent). Each file is
    written atomically (temporary file, fsync, rename); the `.json` is written before the `.txt`.
    """

    channel = "outbox"

    def __init__(self, directory: Path) -> None:
        """Use `directory` (created on first send)."""
        self.directory = Path(directory)

    def _existing(self, safe: str) -> Path | None:
        if not self.directory.is_dir():
            return None
        for p in sorted(self.directory.glob("*.txt")):
            if (
                len(p.stem) > _STAMP_LEN
                and p.stem[_STAMP_LEN] == "-"
                and p.stem[_STAMP_LEN + 1 :] == safe
            ):
                return p
        return None

    def send(self, content: AlertContent, *, key: str) -> Path:
        """Write the alert's files and return the `.txt` path; raise a DeliveryError on failure."""
        safe = _safe_key(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            txt = self._existing(safe)
            if txt is None:
                stamp = content.created_at
                stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
                txt = self.directory / f"{stamp:%Y%m%dT%H%M%S}-{safe}.txt"
            payload = json.dumps(content.to_payload(), ensure_ascii=False, indent=2, sort_keys=True)
            _atomic_write(txt.with_suffix(".json"), payload + "\n")
            _atomic_write(txt, render_text(content))
        except (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise PermanentDeliveryError(
                f"file outbox {self.directory} is not a writable directory ({exc.strerror}); "
                "fix the permissions or the path of the data directory",
                channel=self.channel,
            ) from None
        except OSError as exc:
            raise TransientDeliveryError(
                f"file outbox {self.directory} could not be written ({type(exc).__name__}: "
                f"{exc.strerror or exc}); will retry (check free disk space)",
                channel=self.channel,
            ) from None
        return txt


# --- digests and quiet hours -----------------------------------------------------------------
def render_digest(items: list[AlertContent], *, monitor: str, period: str) -> AlertContent:
    """One `digest` alert collecting several developments (flood guard, digest mode, quiet hours).

    Nested digests are flattened. `period` is free text shown in the headline, e.g.
    "22:00-07:00 quiet hours" or "last hour".
    """
    flat: list[AlertContent] = []
    for item in items:
        flat.extend(item.items if item.kind == "digest" else [item])
    n = len(flat)
    noun = "development" if n == 1 else "developments"
    return AlertContent(
        monitor=monitor,
        kind="digest",
        headline=f"{n} {noun} — {period}",
        summary=(
            f"{n} {noun} collected over {period}, sent as one message instead of {n} "
            "separate alerts. Each is listed with its topics and sources."
        ),
        items=flat,
    )


def in_quiet_hours(now: datetime, *, start: dtime | None, end: dtime | None) -> bool:
    """True when `now`'s wall-clock time is in [start, end); the range may cross midnight.

    Convert `now` to the monitor's time zone first. No quiet hours when either bound is None or
    start == end.
    """
    if start is None or end is None or start == end:
        return False
    t = now.time().replace(tzinfo=None)
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    if start < end:
        return start <= t < end
    return t >= start or t < end
