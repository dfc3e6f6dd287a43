"""Which function runs each kind of job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from warroom.incidents import deadlines
from warroom.incidents.phases import PHASE_DUE, TASK_DUE
from warroom.notify import outbox
from warroom.notify.base import Channel
from warroom.playbook.schema import Playbook

Handler = Callable[[Session, dict[str, Any], datetime], None]


def build_handlers(*, playbook: Playbook, channels: dict[str, Channel]) -> dict[str, Handler]:
    """The handler of every job kind, bound to the playbook and channels."""

    def phase_due(session: Session, payload: dict[str, Any], now: datetime) -> None:
        deadlines.phase_due(
            session=session, playbook=playbook, phase_id=int(payload["phase_id"]), now=now
        )

    def task_due(session: Session, payload: dict[str, Any], now: datetime) -> None:
        deadlines.task_due(
            session=session, playbook=playbook, task_id=int(payload["task_id"]), now=now
        )

    def deliver(session: Session, payload: dict[str, Any], now: datetime) -> None:
        outbox.send(
            session=session, delivery_id=int(payload["delivery_id"]), channels=channels, now=now
        )

    return {PHASE_DUE: phase_due, TASK_DUE: task_due, outbox.DELIVER: deliver}
