"""The senders each channel uses, built from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from routines.deliveries import Message, PermanentFailure, Sender, TemporaryFailure
from tasks.channels.email import EmailDeliveryError, Mailer
from tasks.channels.in_app import send_in_app
from tasks.channels.push import push_sender
from tasks.channels.sms import sms_sender


def email_sender(mailer: Mailer) -> Sender:
    def send(db: Session, message: Message) -> None:
        address = message.membership.user.email
        if not address:
            raise PermanentFailure("the person has no email address")
        try:
            mailer.send(
                address,
                message.title,
                f"{message.body}\n\n{message.link}\n",
                link=message.link,
                message_id=message.message_id,
            )
        except EmailDeliveryError as exc:
            raise TemporaryFailure(str(exc)) from exc

    return send


def senders(config: Mapping[str, Any]) -> dict[str, Sender]:
    mailer = Mailer(
        sender=config["MAIL_FROM"],
        smtp_url=config.get("SMTP_URL"),
        outbox_dir=Path(config["INSTANCE_PATH"]) / "outbox",
    )
    result = {"in_app": send_in_app, "email": email_sender(mailer), "push": push_sender(config)}
    sms = sms_sender(config)
    if sms is not None:  # no SMS_PROVIDER: the sms channel is "not configured"
        result["sms"] = sms
    return result
