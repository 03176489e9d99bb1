"""The SMTP channel: one connection per message, STARTTLS/SSL/plain, errors sorted by cause."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Literal

from monitors.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitors.send_text import snippet as _snippet


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
