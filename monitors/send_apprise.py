"""The Apprise channel: one URL reaches Microsoft Teams, Discord, Telegram, ntfy, Matrix, ...

The URL (it holds the service's token) comes from the environment or a Prefect Secret block and
is never shown: errors name its scheme only. Apprise reports success as a boolean; a failed
notification is retried (transient) and its log lines are quoted in the error, redacted.
"""

from __future__ import annotations

import logging
from typing import Literal

from monitors.alerts import AlertContent, alert_subject
from monitors.errors import PermanentDeliveryError, TransientDeliveryError
from monitors.send_text import snippet


class AppriseSender:
    """Sends alerts through one Apprise URL."""

    channel = "apprise"

    def __init__(self, url: str, *, body_format: Literal["text", "markdown"] = "markdown") -> None:
        """Check that Apprise understands the URL (PermanentDeliveryError when it does not)."""
        import apprise

        self._apprise = apprise.Apprise()
        self.scheme = url.split("://", 1)[0] if "://" in url else "?"
        self._url = url
        if not self._apprise.add(url):
            raise PermanentDeliveryError(
                f"Apprise does not understand the URL (scheme {self.scheme!r}); check the secret "
                "holding channels.apprise.url against https://github.com/caronc/apprise/wiki",
                channel=self.channel,
            )
        self.body_format = body_format

    def _redact(self, text: str) -> str:
        return text.replace(self._url, f"{self.scheme}://…")

    def send(self, content: AlertContent, *, body: str) -> None:
        """Notify with the alert's subject as title and `body`; raise a DeliveryError on failure."""
        import apprise

        with apprise.LogCapture(level=logging.WARNING) as log:
            ok = self._apprise.notify(
                body=body,
                title=alert_subject(content),
                body_format=self.body_format,
            )
            detail = self._redact(snippet(log.getvalue() or "", 300))
        if not ok:
            raise TransientDeliveryError(
                f"Apprise {self.scheme}:// notification failed"
                + (f" ({detail})" if detail else "")
                + "; will retry",
                channel=self.channel,
            )
