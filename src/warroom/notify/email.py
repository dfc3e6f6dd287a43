"""Email over SMTP (STARTTLS, TLS or plain; optional login): a text and an HTML part, and
one thread per incident (``References``/``In-Reply-To`` name the incident), so a mail
client shows an incident's pages and reminders together."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from warroom.notify.base import Message, PermanentError, Receipt
from warroom.notify.config import EmailConfig
from warroom.notify.render import for_people


class EmailChannel:
    """Sends to the message's recipient when it is an email address; an SMTP 5xx is a
    permanent failure, a 4xx, a timeout or a dropped connection is tried again."""

    def __init__(self, config: EmailConfig) -> None:
        self.name = config.name
        self.config = config
        self.domain = parseaddr(config.sender)[1].rpartition("@")[2] or "warroom.invalid"

    def send(self, message: Message) -> Receipt:
        if "@" not in message.recipient:
            raise PermanentError(f"{message.recipient!r} has no email address")
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                if self.config.username and self.config.password:
                    smtp.login(self.config.username, self.config.password.get_secret_value())
                refused = smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            said = exc.smtp_error
            text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            detail = f"SMTP {exc.smtp_code} {text}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(detail) from exc
            raise RuntimeError(detail) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            answers = ", ".join(f"{code} {said!r}" for code, said in exc.recipients.values())
            if all(400 <= code < 500 for code, _ in exc.recipients.values()):
                raise RuntimeError(f"recipient deferred: {answers}") from exc
            raise PermanentError(f"recipient refused: {answers}") from exc
        if refused:
            raise PermanentError(f"recipient refused: {refused}")
        return Receipt(channel=self.name, detail=f"accepted by {self.config.host}")

    def compose(self, message: Message) -> EmailMessage:
        rendered = for_people(message)
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = message.recipient
        mail["Subject"] = rendered.subject
        mail["Date"] = formatdate(usegmt=True)
        if message.key:  # the same on every try: a receiving server may drop a repeat
            mail["Message-ID"] = f"<{message.key}@{self.domain}>"
        if message.thread:
            root = f"<warroom-{message.thread}@{self.domain}>"
            mail["In-Reply-To"] = root
            mail["References"] = root
        mail.set_content(rendered.text)
        mail.add_alternative(rendered.html, subtype="html")
        return mail

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        if config.security == "tls":
            return smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        if config.security == "starttls":
            try:
                smtp.starttls(context=context)
            except BaseException:
                smtp.close()
                raise
        return smtp
