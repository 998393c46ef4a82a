"""The in-app channel: an entry in the person's notification centre, written in the same
transaction that marks the delivery sent, so it appears exactly once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from routines.deliveries import Message
from routines.models import Notification


def send_in_app(db: Session, message: Message) -> None:
    db.add(
        Notification(
            membership_id=message.membership.id,
            delivery_id=message.delivery_id,
            kind=message.kind,
            title=message.title,
            body=message.body,
            link=message.link,
        )
    )
    db.flush()
