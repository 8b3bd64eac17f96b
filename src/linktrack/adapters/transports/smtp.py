"""Email out over SMTP to a configured relay (stdlib smtplib: a real SMTP client)."""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from linktrack.adapters.transports.base import TransportError


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    delivery_id: str
    sender: str
    to: str
    subject: str
    html: str | None
    text: str | None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()  # envelope recipients only: no header names them
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, bytes], ...] = ()  # (file name, content)


class SmtpTransport:
    """`smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP URL must look like smtp://host:port or smtps://host:port")
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    def send(self, email: OutgoingEmail) -> None:
        """Hand one message to the relay; raise TransportError on failure."""
        message = EmailMessage()
        message["From"] = email.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=email.delivery_id)
        message["X-Linktrack-Delivery"] = email.delivery_id
        if email.cc:
            message["Cc"] = ", ".join(email.cc)
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        for name, value in email.headers:
            message[name] = value
        message.set_content(email.text or "")
        if email.html is not None:
            message.add_alternative(email.html, subtype="html")
        for file_name, content in email.attachments:
            kind = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
            main, _, sub = kind.partition("/")
            message.add_attachment(content, maintype=main, subtype=sub, filename=file_name)
        recipients = [email.to, *email.cc, *email.bcc]
        try:
            client: smtplib.SMTP
            if self._tls:
                client = smtplib.SMTP_SSL(
                    self._host,
                    self._port,
                    timeout=self._timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with client:
                if not self._tls and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                if self._user:
                    client.login(self._user, self._password or "")
                client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc.recipients}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=permanent
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"SMTP relay unreachable: {exc}") from None
