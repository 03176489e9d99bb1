"""The generic JSON webhook channel: one signed POST per alert, with an idempotency key.

Request: `POST <url>` with a JSON body `{"id", "monitor", "kind", "subject", "text", "alert"}`
(`alert` is the stored payload, `text` the plain-text rendering) and the headers

- `Idempotency-Key: <key>`: the same for every retry of one alert (and one digest), so a receiver
  drops a repeat it has already processed;
- `X-Newsmon-Timestamp: <unix seconds>` and
  `X-Newsmon-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: verify both,
  and reject timestamps older than a few minutes (replays).

2xx is delivered; 408, 429 (honouring Retry-After) and 5xx retry; other statuses are permanent.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

import httpx

from monitors.alerts import AlertContent, alert_subject, render_text
from monitors.errors import PermanentDeliveryError, TransientDeliveryError
from monitors.retry import parse_retry_after
from monitors.send_text import snippet

SIGNATURE_HEADER = "X-Newsmon-Signature"
TIMESTAMP_HEADER = "X-Newsmon-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return "sha256=" + mac.hexdigest()


def webhook_body(content: AlertContent, *, key: str) -> dict[str, Any]:
    """The JSON document POSTed for one alert."""
    return {
        "id": key,
        "monitor": content.monitor,
        "kind": content.kind,
        "subject": alert_subject(content),
        "text": render_text(content),
        "alert": content.to_payload(),
    }


class WebhookSender:
    """POSTs signed JSON alerts to one URL; errors name the host, never the path or the secret."""

    channel = "webhook"

    def __init__(self, url: str, *, secret: str, timeout: float = 10.0) -> None:
        """Check the URL and keep the signing secret (PermanentDeliveryError for a bad URL)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise PermanentDeliveryError(
                f"webhook URL {url!r} is not an http(s) URL; fix channels.webhook.url",
                channel=self.channel,
            )
        if not secret:
            raise PermanentDeliveryError(
                "webhook signing secret is empty; set the secret channels.webhook.secret names",
                channel=self.channel,
            )
        self.url = url
        self.secret = secret
        self.timeout = timeout
        port = f":{parsed.port}" if parsed.port else ""
        self.target = f"{parsed.scheme}://{parsed.host}{port}/…"

    def send(self, content: AlertContent, *, key: str) -> None:
        """POST the alert; return when the receiver answered 2xx, else raise a DeliveryError."""
        body = json.dumps(webhook_body(content, key=key), ensure_ascii=False).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            "User-Agent": "newsmon-webhook/1",
        }
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientDeliveryError(
                f"webhook {self.target} timed out after {self.timeout:g}s; will retry",
                channel=self.channel,
            ) from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"webhook {self.target} could not be reached ({type(exc).__name__}); will retry",
                channel=self.channel,
            ) from None
        self._check(response)

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        body = snippet(response.text)
        what = f"webhook {self.target} answered {status} {response.reason_phrase}" + (
            f" (body: {body!r})" if body else ""
        )
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientDeliveryError(
                f"{what}; will retry", channel=self.channel, retry_after=retry_after
            )
        hint = (
            "the receiver rejected the signature: check that it uses the same secret"
            if status in (401, 403)
            else "check channels.webhook.url and what the receiver expects; retrying will not help"
        )
        raise PermanentDeliveryError(f"{what}: {hint}", channel=self.channel)
