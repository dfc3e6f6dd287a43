"""Signed one-click acknowledgement links, put in every page.

A link carries a token signed with the server's secret key (itsdangerous): which incident,
for whom, and when it was made. It is good for a day; rotating the secret key retires
every link. Following it shows a page with one button: mail scanners that fetch links
must not acknowledge on someone's behalf, so only the button's POST does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from warroom.errors import Forbidden

SALT = "warroom-acknowledge-link"
GOOD_FOR = timedelta(days=1)


@dataclass(frozen=True)
class LinkHolder:
    incident_id: int
    person_id: int


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make(*, secret_key: str, base_url: str, incident_id: int, person_id: int) -> str:
    """The link that lets this person acknowledge this incident."""
    token = _serializer(secret_key).dumps({"incident": incident_id, "person": person_id})
    return f"{base_url}/ack/{token}"


def read(*, secret_key: str, token: str) -> LinkHolder:
    """Whose link this is; Forbidden when it was not made here or is too old."""
    try:
        data = _serializer(secret_key).loads(token, max_age=int(GOOD_FOR.total_seconds()))
    except SignatureExpired as exc:
        raise Forbidden("this acknowledgement link has expired") from exc
    except BadSignature as exc:
        raise Forbidden("this acknowledgement link is not valid") from exc
    return LinkHolder(incident_id=int(data["incident"]), person_id=int(data["person"]))
