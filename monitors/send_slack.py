"""The Slack incoming-webhook channel: rate limit per webhook, Retry-After, precise errors."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from monitors.errors import PermanentDeliveryError, TransientDeliveryError
from monitors.retry import parse_retry_after
from monitors.send_text import snippet as _snippet


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
