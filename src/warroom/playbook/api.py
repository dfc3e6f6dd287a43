"""The playbook API under /api/v1/playbook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from warroom.playbook.severity import Impact, suggest_severity
from warroom.web.deps import RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1/playbook", tags=["playbook"])


class Suggestion(BaseModel):
    severity: str
    name: str
    criteria: list[str]


@router.get("")
def get_playbook(caller: Viewer, runtime: RuntimeDep) -> dict[str, Any]:
    """The loaded playbook: severities, roles, phases, templates, contacts, runbooks."""
    return runtime.playbook.model_dump(mode="json")


@router.post("/suggest-severity", response_model=Suggestion)
def suggest(body: Impact, caller: Viewer, runtime: RuntimeDep) -> Suggestion:
    """Suggest a severity from the impact, by the playbook's rules."""
    key = suggest_severity(runtime.playbook, body)
    severity = runtime.playbook.severity(key)
    assert severity is not None  # the playbook checks guarantee it
    return Suggestion(severity=key, name=severity.name, criteria=severity.criteria)
