"""Outbound webhooks, signed the Standard Webhooks way (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), so receivers can verify them with any
Standard Webhooks library.

They are POSTed with urllib3, which takes about half the CPU time of httpx for each request
(a webhook goes out for every new incident, so under an alert storm this is the worker's
largest cost; docs/performance.md). No retries inside urllib3 and no redirects followed:
the outbox retries, with backoff."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import urllib3
from standardwebhooks import Webhook

from warroom.notify.base import Message, PermanentError, Receipt, RetryLater
from warroom.notify.config import WebhookConfig

MAX_RETRY_AFTER = 3600.0


def retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most an hour."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


def answered(status: int, retry: str, text: str, channel: str, who: str) -> Receipt:
    """A receipt for a 2xx ``status``; for 408, 429 and 5xx an error the outbox retries (no
    sooner than a ``retry`` (Retry-After) header asks); for any other answer a permanent
    failure, with the start of the answer's ``text``."""
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return Receipt(channel=channel, detail=detail)
    if status in (408, 429) or status >= 500:
        wait = retry_after(retry)
        if wait is not None:
            raise RetryLater(f"{who} answered {detail}, retry after {wait:.0f} s", wait)
        raise RuntimeError(f"{who} answered {detail}")
    raise PermanentError(f"{who} answered {detail}: {text[:200]}")


def signed_headers(signer: Webhook, message: Message) -> dict[str, str]:
    """The headers of a signed POST of the message's body (JSON), signed now."""
    sent_at = datetime.fromtimestamp(int(time.time()), tz=UTC)
    return {
        "content-type": "application/json",
        "user-agent": "warroom",
        "webhook-id": message.key,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.sign(msg_id=message.key, timestamp=sent_at, data=message.body),
    }


class WebhookChannel:
    """POSTs the message body (JSON) to one URL. 2xx is sent; 408, 429 and 5xx are retried
    by the outbox (no sooner than a Retry-After header asks); any other answer is a
    permanent failure."""

    def __init__(self, config: WebhookConfig) -> None:
        assert config.secret is not None
        self.name = config.name
        self.url = config.url
        self._signer = Webhook(config.secret.get_secret_value())
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=config.timeout_seconds), retries=False
        )

    def send(self, message: Message) -> Receipt:
        response = self._pool.request(
            "POST",
            self.url,
            body=message.body.encode(),
            headers=signed_headers(self._signer, message),
            redirect=False,
        )
        text = response.data.decode("utf-8", errors="replace")
        retry = response.headers.get("retry-after", "")
        return answered(response.status, retry, text, self.name, self.url)
