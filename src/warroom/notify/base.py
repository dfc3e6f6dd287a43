"""The neutral message and the channel protocol every adapter follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """What to say, before any channel renders it."""

    recipient: str
    subject: str
    body: str
    key: str = ""  # the same on every try of one delivery: receivers drop repeats by it
    thread: str = ""  # what the message is about ("incident-42"): mail threads by it


class PermanentError(Exception):
    """The receiver refused the message for good: trying again would not help."""


class RetryLater(Exception):
    """The receiver asked to be tried again no sooner than ``seconds`` from now."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True)
class Receipt:
    """What the channel answered."""

    channel: str
    detail: str


class Channel(Protocol):
    """Sends one message or raises."""

    name: str

    def send(self, message: Message) -> Receipt: ...
