"""Delivery channels (Slack webhook, SMTP, file outbox), digests and quiet hours.

Every sender either returns (delivered) or raises `TransientDeliveryError` (retry later, maybe
after `retry_after` seconds) or `PermanentDeliveryError` (retrying will not help; the message
says what to change). The outbox pass that calls them and schedules retries
(`monitors.retry.retry_delay`) is `pipeline/outbox.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dtime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import httpx

from monitors.alerts import AlertContent, render_text
from monitors.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitors.retry import parse_retry_after

__all__ = [
    "FileOutbox",
    "SlackSender",
    "SmtpSender",
    "in_quiet_hours",
    "render_digest",
]


# --- Slack -----------------------------------------------------------------------------------
@dataclass
class _WebhookState:
    lock: threading.Lock
    next_allowed: float = 0.0  # time.monotonic() before which no message may be posted
    blocked_until: float = 0.0  # after a 429: time.monotonic() until which Slack asked us to wait


_webhooks: dict[str, _WebhookState] = {}
_webhooks_lock = threading.Lock()


def _webhook_state(url: str) -> _WebhookState:
    with _webhooks_lock:
        state = _webhooks.get(url)
        if state is None:
            state = _webhooks[url] = _WebhookState(lock=threading.Lock())
        return state


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SLACK_HINTS: dict[str, str] = {
    "invalid_payload": "Slack could not parse the message; this is a newsmon bug, please report it",
    "no_text": "the message had no text; this is a newsmon bug, please report it",
    "invalid_blocks": "Slack rejected the message blocks; this is a newsmon bug, please report it",
    "no_service": "the webhook no longer exists; create a new incoming webhook and update the "
    "secret holding its URL",
    "no_team": "the Slack workspace is gone; create a new incoming webhook",
    "team_disabled": "the Slack workspace is disabled; create a webhook in an active workspace",
    "invalid_token": "the webhook was revoked; create a new incoming webhook and update the secret",
    "action_prohibited": "a workspace admin restricts posting; ask them or use another channel",
    "posting_to_general_channel_denied": "only admins may post to this channel; "
    "choose another channel for the webhook",
    "channel_not_found": "the webhook's channel was deleted; create a new incoming webhook",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or create a new "
    "incoming webhook for another channel",
}


def _slack_hint(status: int, body: str) -> str:
    for code, hint in _SLACK_HINTS.items():
        if code in body:
            return hint
    if status in (401, 403):
        return "the webhook was revoked or is not allowed; create a new incoming webhook"
    if status in (404, 410):
        return "the webhook URL is unknown; check the secret holding the webhook URL"
    return "check the webhook URL and the message; retrying will not help"


class SlackSender:
    """Posts Block Kit payloads to one Slack incoming webhook.

    Rate limit: process-wide and thread-safe, at most one message per `min_interval` seconds per
    webhook URL (the next post starts at least `min_interval` after the previous one finished);
    different webhooks do not wait for each other. After a 429 every sender of that webhook fails
    fast with `TransientDeliveryError` until the server's Retry-After has passed.
    Error messages show the webhook's scheme and host only, never its secret path.
    """

    channel = "slack"

    def __init__(
        self, webhook_url: str, *, min_interval: float = 1.0, timeout: float = 10.0
    ) -> None:
        """Check the URL (PermanentDeliveryError when it is not http(s)) and set the limits."""
        try:
            parsed = httpx.URL(webhook_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise PermanentDeliveryError(
                f"Slack webhook URL is not a valid URL ({type(exc).__name__}); "
                "check the secret holding the webhook URL",
                channel=self.channel,
            ) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise PermanentDeliveryError(
                f"Slack webhook URL must be an https:// URL, got scheme {parsed.scheme!r}; "
                "check the secret holding the webhook URL",
                channel=self.channel,
            )
        if min_interval < 0 or timeout <= 0:
            raise ValueError(
                f"need min_interval >= 0 and timeout > 0, got {min_interval}, {timeout}"
            )
        self.webhook_url = webhook_url
        self.min_interval = min_interval
        self.timeout = timeout
        port = f":{parsed.port}" if parsed.port else ""
        #: The webhook with its secret path redacted, safe for messages and logs.
        self.target = f"{parsed.scheme}://{parsed.host}{port}/…"
        self._secrets = [s for s in (webhook_url, parsed.raw_path.decode("ascii", "replace")) if s]

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) > 1:
                text = text.replace(secret, self.target if secret == self.webhook_url else "/…")
        return text

    def send(self, payload: dict[str, Any]) -> None:
        """POST `payload` as JSON; return when Slack accepted it, else raise a DeliveryError."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        state = _webhook_state(self.webhook_url)
        with state.lock:
            now = time.monotonic()
            if now < state.blocked_until:
                wait = state.blocked_until - now
                raise TransientDeliveryError(
                    f"Slack webhook {self.target} asked us to slow down (429); not sending for "
                    f"another {wait:.0f}s",
                    channel=self.channel,
                    retry_after=wait,
                )
            if now < state.next_allowed:
                time.sleep(state.next_allowed - now)
            try:
                response = self._post(body)
            finally:
                state.next_allowed = time.monotonic() + self.min_interval
            if response.status_code == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                state.blocked_until = time.monotonic() + (retry_after or 0.0)
        self._check(response)

    def _post(self, body: bytes) -> httpx.Response:
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                return client.post(
                    self.webhook_url,
                    content=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(
                f"Slack webhook {self.target} timed out after {self.timeout:g}s "
                f"({type(exc).__name__}); will retry",
                channel=self.channel,
            ) from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"Slack webhook {self.target} could not be reached ({type(exc).__name__}: "
                f"{self._redact(str(exc)) or 'no detail'}); will retry",
                channel=self.channel,
            ) from None

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        body = self._redact(_snippet(response.text))
        what = f"Slack webhook {self.target} answered {status} {response.reason_phrase}"
        detail = f" (body: {body!r})" if body else ""
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            when = f"after {retry_after:g}s" if retry_after is not None else "later"
            raise TransientDeliveryError(
                f"{what}{detail}: rate limited; will retry {when}",
                channel=self.channel,
                retry_after=retry_after,
            )
        if status >= 500 or status == 408:
            raise TransientDeliveryError(
                f"{what}{detail}: Slack-side error; will retry", channel=self.channel
            )
        if 300 <= status < 400:
            raise PermanentDeliveryError(
                f"{what}{detail}: unexpected redirect; check the webhook URL in its secret",
                channel=self.channel,
            )
        raise PermanentDeliveryError(
            f"{what}{detail}: {_slack_hint(status, body)}", channel=self.channel
        )


# --- SMTP ------------------------------------------------------------------------------------
class SmtpSender:
    """Sends email with smtplib: one connection per message, STARTTLS/SSL/plain, optional AUTH.

    SMTP 4xx replies, refused connections, timeouts and disconnects are transient; 5xx replies
    (550, 554, 535 authentication failed), TLS/certificate problems and partial delivery (some
    recipients refused: retrying would duplicate the message for the others) are permanent.
    `ssl_context` overrides the default (system CA) context, e.g. to trust a private CA.
    """

    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: Literal["starttls", "ssl", "none"],
        username: str | None,
        password: str | None,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Remember the server settings; nothing is contacted until `send`."""
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"tls must be 'starttls', 'ssl' or 'none', got {tls!r}")
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.target = f"{host}:{port}"

    def _error(self, cls: type[DeliveryError], text: str) -> DeliveryError:
        return cls(f"SMTP server {self.target} {text}", channel=self.channel)

    def _reply_error(
        self, stage: str, code: int, reply: bytes | str, hint: str = ""
    ) -> DeliveryError:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = _snippet(text, 300)
        if 400 <= code < 500 or code < 0:
            return self._error(
                TransientDeliveryError, f"{stage}: {code} {text}; temporary, will retry"
            )
        return self._error(
            PermanentDeliveryError,
            f"{stage}: {code} {text}; "
            + (hint or "retrying will not help, check the address and the server's policy"),
        )

    def _timeout(self, stage: str) -> DeliveryError:
        hint = ""
        if stage == "connect" and self.tls != "ssl":
            hint = " (no greeting: if the port expects TLS at once, e.g. 465, set tls: ssl)"
        return self._error(
            TransientDeliveryError,
            f"timed out after {self.timeout:g}s during {stage}{hint}; will retry",
        )

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send(self, message: EmailMessage) -> None:
        """Deliver `message` to its To/Cc/Bcc; raise a DeliveryError unless all got it."""
        context = self.ssl_context or ssl.create_default_context()
        stage = "connect"
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect(context)
            stage = "EHLO"
            smtp.ehlo()
            if self.tls == "starttls":
                stage = "STARTTLS"
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username and self.password is not None:
                stage = "AUTH"
                smtp.login(self.username, self.password)
            stage = "sending"
            refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise self._reply_error(
                "rejected the login",
                exc.smtp_code,
                exc.smtp_error,
                f"check the username {self.username!r} and the password secret",
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            details = "; ".join(
                f"{rcpt}: {code} {_snippet(reply.decode('utf-8', 'replace'), 120)}"
                for rcpt, (code, reply) in exc.recipients.items()
            )
            cls: type[DeliveryError] = (
                TransientDeliveryError
                if all(400 <= c < 500 for c in codes)
                else PermanentDeliveryError
            )
            raise self._error(
                cls,
                f"refused every recipient ({details}); "
                + (
                    "temporary, will retry"
                    if cls is TransientDeliveryError
                    else "check the addresses in channels.email.to"
                ),
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise self._reply_error(
                f"refused the sender {exc.sender!r}",
                exc.smtp_code,
                exc.smtp_error,
                "check channels.email.from: the server must allow this account to send as it",
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            hint = (
                "set tls: ssl (port 465) or tls: none"
                if stage == "STARTTLS"
                else "remove username/password or use a server that supports AUTH"
            )
            raise self._error(
                PermanentDeliveryError, f"does not support {stage} ({exc}); {hint}"
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            if "timed out" in str(exc):  # smtplib reports a read timeout as a disconnect
                raise self._timeout(stage) from None
            raise self._error(
                TransientDeliveryError,
                f"closed the connection during {stage} ({exc or 'no detail'}); will retry",
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(
                f"rejected {stage}" if stage != "sending" else "rejected the message",
                exc.smtp_code,
                exc.smtp_error,
            ) from None
        except smtplib.SMTPException as exc:
            raise self._error(
                TransientDeliveryError, f"failed during {stage} ({exc}); will retry"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._error(
                PermanentDeliveryError,
                f"presented a certificate that is not trusted ({exc.verify_message}); "
                "fix the server certificate or the host name in channels.email.host",
            ) from None
        except ssl.SSLError as exc:
            raise self._error(
                PermanentDeliveryError,
                f"TLS failed during {stage} ({exc.reason or exc}); check channels.email.tls "
                "(ssl for port 465, starttls for 587, none only for local relays)",
            ) from None
        except TimeoutError:
            raise self._timeout(stage) from None
        except ConnectionRefusedError:
            raise self._error(
                TransientDeliveryError,
                "refused the connection; will retry (check channels.email.host and port if "
                "this persists)",
            ) from None
        except socket.gaierror as exc:
            raise self._error(
                TransientDeliveryError,
                f"host name could not be resolved ({exc.strerror}); will retry (check "
                "channels.email.host if this persists)",
            ) from None
        except OSError as exc:
            raise self._error(
                TransientDeliveryError,
                f"connection failed during {stage} ({type(exc).__name__}: {exc}); will retry",
            ) from None
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        if refused:
            details = "; ".join(
                f"{rcpt}: {code} {_snippet(reply.decode('utf-8', 'replace'), 120)}"
                for rcpt, (code, reply) in refused.items()
            )
            raise self._error(
                PermanentDeliveryError,
                f"delivered the message but refused some recipients ({details}); not retried, "
                "as that would send it twice to the others; check channels.email.to",
            )


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
