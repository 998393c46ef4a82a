"""The email channel: SMTP when SMTP_URL is set, else an outbox folder for development.

SMTP_URL forms:
  smtp://host:25                  plain SMTP (a local relay)
  smtp://user:pass@host:587       SMTP with STARTTLS (used whenever credentials are given,
                                  or with ?starttls=1)
  smtps://user:pass@host:465      SMTP over TLS
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tenants.db import utcnow

logger = logging.getLogger(__name__)


class EmailDeliveryError(RuntimeError):
    pass


@dataclass(frozen=True)
class Mailer:
    sender: str
    smtp_url: str | None
    outbox_dir: Path
    timeout: float = 10.0

    def compose(
        self, to: str, subject: str, body: str, message_id: str | None = None
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        # A stable id for one delivery, so a resend after a crash is recognisably the same.
        message["Message-ID"] = message_id or make_msgid(domain="cadence.invalid")
        message.set_content(body)
        return message

    def send(
        self,
        to: str,
        subject: str,
        body: str,
        *,
        link: str | None = None,
        message_id: str | None = None,
    ) -> None:
        message = self.compose(to, subject, body, message_id)
        if self.smtp_url:
            self._send_smtp(message)
        else:
            self._write_outbox(message, link)

    def _send_smtp(self, message: EmailMessage) -> None:
        url = urlsplit(self.smtp_url or "")
        host = url.hostname or "localhost"
        query = parse_qs(url.query)
        try:
            if url.scheme == "smtps":
                context = ssl.create_default_context()
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, url.port or 465, timeout=self.timeout, context=context
                )
            elif url.scheme == "smtp":
                client = smtplib.SMTP(host, url.port or 25, timeout=self.timeout)
            else:
                raise EmailDeliveryError(f"unsupported SMTP_URL scheme {url.scheme!r}")
            with client:
                if url.scheme == "smtp" and (url.username or query.get("starttls") == ["1"]):
                    client.starttls(context=ssl.create_default_context())
                if url.username:
                    client.login(unquote(url.username), unquote(url.password or ""))
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise EmailDeliveryError(f"could not send email via {host}: {exc}") from exc

    def _write_outbox(self, message: EmailMessage, link: str | None) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        path = self.outbox_dir / f"{stamp}-{message['To'].replace('@', '_at_')}.eml"
        path.write_bytes(bytes(message))
        note = f"[cadence] email to {message['To']}: {message['Subject']} (saved to {path})"
        if link:
            note += f"\n[cadence]   link: {link}"
        # The console is the delivery channel in development: print, not only log.
        print(note, file=sys.stderr, flush=True)
        logger.info("email written to outbox %s", path)
