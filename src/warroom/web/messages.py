"""Send a playbook template about an incident: POST /api/v1/incidents/{id}/messages."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from warroom.incidents import messages
from warroom.incidents.service import get
from warroom.web.deps import IdPath, Responder, RuntimeDep

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


class MessageSend(messages.MessageRequest):
    dry_run: bool = Field(default=False, description="Render only: show it, send nothing.")


class MessageRead(BaseModel):
    subject: str
    text: str
    deliveries: list[int]


@router.post(
    "/{incident_id}/messages", status_code=status.HTTP_202_ACCEPTED, response_model=MessageRead
)
def send_message(
    incident_id: IdPath, body: MessageSend, caller: Responder, runtime: RuntimeDep
) -> MessageRead:
    """Fill a playbook template (internal alert, customer notification...) from the
    incident and ``values``, and queue it on ``channels``; every placeholder needs a value
    (a 422 names the first missing one). ``dry_run`` shows it without sending."""
    with runtime.transaction() as session:
        incident = get(session=session, incident_id=incident_id, lock=True)
        sent = messages.send(
            session=session,
            playbook=runtime.playbook,
            incident=incident,
            request=body,
            channels=list(runtime.channels),
            fixed_recipients=runtime.fixed_recipients(),
            actor=caller.actor,
            base_url=runtime.settings.resolved_base_url(),
            now=runtime.clock.now(),
            dry_run=body.dry_run,
        )
        return MessageRead(subject=sent.subject, text=sent.text, deliveries=sent.deliveries)
