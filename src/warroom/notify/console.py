"""The console/log channel: writes each message to the ``warroom.notify`` logger."""

from __future__ import annotations

import logging

from warroom.notify.base import Message, Receipt

logger = logging.getLogger("warroom.notify")


class ConsoleChannel:
    """For development and as the last resort: the message goes to the log."""

    name = "console"

    def send(self, message: Message) -> Receipt:
        logger.warning(
            "NOTIFY to=%s subject=%s\n%s", message.recipient, message.subject, message.body
        )
        return Receipt(channel=self.name, detail="logged")
