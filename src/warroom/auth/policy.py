"""Who may do what: the one place that decides, for pages and the API alike.

Roles and what they grant:

    viewer      read
    responder   read, respond
    commander   read, respond, command
    security    read, respond, and command on security incidents
    admin       everything, and administer

``respond`` is the work of an incident (declare, acknowledge, mitigate, resolve, notes,
tasks, roles, paging, severity); ``command`` is the Incident Commander's final say (close
and reopen); ``administer`` is users, tokens, integrations, channels and the directory.
"""

from __future__ import annotations

from typing import Literal

from warroom.errors import Forbidden

Role = Literal["viewer", "responder", "commander", "security", "admin"]
Permission = Literal["read", "respond", "command", "administer"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "commander", "security", "admin")
SECURITY_TYPE = "security"

_GRANTS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({"read"}),
    "responder": frozenset({"read", "respond"}),
    "commander": frozenset({"read", "respond", "command"}),
    "security": frozenset({"read", "respond"}),
    "admin": frozenset({"read", "respond", "command", "administer"}),
}
# what a permission asks of a role in words, for the refusal
_NEEDED: dict[Permission, str] = {
    "read": "any role",
    "respond": "responder, commander, security or admin",
    "command": "commander or admin (security, for security incidents)",
    "administer": "admin",
}


# what each incident action needs; the ones not named need ``respond``
_INCIDENT_ACTIONS: dict[str, Permission] = {"close": "command", "reopen": "command"}


def for_action(action: str) -> Permission:
    """The permission an incident action (acknowledge, close, ...) needs."""
    return _INCIDENT_ACTIONS.get(action, "respond")


def allows(role: str, permission: Permission, *, incident_type: str | None = None) -> bool:
    """Whether ``role`` may use ``permission`` (on an incident of ``incident_type``)."""
    if permission in _GRANTS.get(role, frozenset()):
        return True
    return role == "security" and permission == "command" and incident_type == SECURITY_TYPE


def check_retype(role: str, old_type: str, new_type: str | None) -> None:
    """Forbidden when changing an incident's type would give the role a say it lacks now
    (the security role reclassifying an incident as security to close it)."""
    if new_type is None or new_type == old_type:
        return
    gains = allows(role, "command", incident_type=new_type) and not allows(
        role, "command", incident_type=old_type
    )
    if gains:
        raise Forbidden(
            f"the {role} role cannot reclassify a {old_type} incident as {new_type}; "
            f"it needs {_NEEDED['command']}",
            details={"role": role, "permission": "command", "field": "type"},
        )


def check(role: str, permission: Permission, *, incident_type: str | None = None) -> None:
    """Forbidden unless ``role`` may use ``permission``."""
    if not allows(role, permission, incident_type=incident_type):
        raise Forbidden(
            f"the {role} role cannot do this; it needs {_NEEDED[permission]}",
            details={"role": role, "permission": permission},
        )
