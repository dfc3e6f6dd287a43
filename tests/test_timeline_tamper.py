"""Tampering with stored timeline rows is caught by ``incident verify`` and the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, create_engine, text

from tests.conftest import Api, Cli, CliResult
from warroom.db import JSONType, UTCDateTime
from warroom.runtime import Runtime
from warroom.settings import Settings

ENTRIES = 7  # declared, phases_planned, acknowledged, note, task_completed, note, note


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A separate connection to the test database, as an attacker with SQL access has."""
    eng = create_engine(settings.resolved_database_url())
    yield eng
    eng.dispose()


@pytest.fixture
def incident(cli: Cli) -> int:
    """An incident with ENTRIES timeline entries, built through the CLI."""
    steps: list[tuple[str, ...]] = [
        ("declare", "--title", "Checkout down", "--severity", "P1"),
        ("ack", "1"),
        ("note", "1", "looking at the load balancer"),
        ("task", "1", "identify-components"),
        ("note", "1", "rolled back deploy 4711"),
        ("note", "1", "error rate back to normal"),
    ]
    for step in steps:
        result = cli("incident", *step)
        assert result.code == 0, result.err
    assert len(timeline(cli, 1)) == ENTRIES
    result = cli("incident", "verify", "1")
    assert result.code == 0, result.err
    assert f"intact ({ENTRIES} entries)" in result.out
    return 1


def timeline(cli: Cli, incident_id: int) -> list[dict[str, Any]]:
    result = cli("incident", "timeline", str(incident_id), "--json")
    assert result.code == 0, result.err
    entries: list[dict[str, Any]] = json.loads(result.out)
    return entries


def broken(result: CliResult) -> str:
    """The one error line of a failed verify."""
    assert result.code == 1, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: timeline of incident 1 is broken"), lines[0]
    return lines[0]


def set_data(engine: Engine, incident_id: int, seq: int, data: dict[str, Any]) -> None:
    statement = text(
        "UPDATE timeline_entries SET data = :data WHERE incident_id = :incident AND seq = :seq"
    ).bindparams(bindparam("data", type_=JSONType))
    with engine.begin() as connection:
        changed = connection.execute(statement, {"data": data, "incident": incident_id, "seq": seq})
        assert changed.rowcount == 1


def delete_entry(engine: Engine, incident_id: int, seq: int) -> None:
    with engine.begin() as connection:
        deleted = connection.execute(
            text("DELETE FROM timeline_entries WHERE incident_id = :incident AND seq = :seq"),
            {"incident": incident_id, "seq": seq},
        )
        assert deleted.rowcount == 1


def swap_seq(engine: Engine, incident_id: int, a: int, b: int) -> None:
    move = text(
        "UPDATE timeline_entries SET seq = :new WHERE incident_id = :incident AND seq = :old"
    )
    with engine.begin() as connection:
        for old, new in ((a, -1), (b, a), (-1, b)):
            result = connection.execute(move, {"new": new, "old": old, "incident": incident_id})
            assert result.rowcount == 1


def run_sql(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


# --- incident verify -----------------------------------------------------------------------


def test_edited_data_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    entries = timeline(cli, incident)
    assert entries[3]["kind"] == "note"
    set_data(engine, incident, 4, {"text": "nothing to see here"})
    assert timeline(cli, incident)[3]["data"] == {"text": "nothing to see here"}
    line = broken(cli("incident", "verify", str(incident)))
    assert "entry 4 " in line
    assert "altered" in line


def test_edited_first_entry_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    entries = timeline(cli, incident)
    set_data(engine, incident, 1, {**entries[0]["data"], "severity": "P3"})
    assert "entry 1 " in broken(cli("incident", "verify", str(incident)))


def test_edited_last_entry_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    set_data(engine, incident, ENTRIES, {"text": "all good, nothing happened"})
    assert f"entry {ENTRIES} " in broken(cli("incident", "verify", str(incident)))


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "cli:someone-else"), ("kind", "resolved")],
)
def test_edited_columns_are_named(
    cli: Cli, incident: int, engine: Engine, column: str, value: str
) -> None:
    run_sql(
        engine,
        f"UPDATE timeline_entries SET {column} = :value WHERE incident_id = :i AND seq = 5",  # noqa: S608
        value=value,
        i=incident,
    )
    assert "entry 5 " in broken(cli("incident", "verify", str(incident)))


def test_edited_time_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    entries = timeline(cli, incident)
    select_at = text("SELECT at FROM timeline_entries WHERE incident_id = :i AND seq = 3")
    update_at = text(
        "UPDATE timeline_entries SET at = :at WHERE incident_id = :i AND seq = 3"
    ).bindparams(bindparam("at", type_=UTCDateTime))
    with engine.begin() as connection:
        at = connection.execute(select_at.columns(at=UTCDateTime), {"i": incident}).scalar_one()
        connection.execute(update_at, {"at": at - timedelta(days=365), "i": incident})
    assert timeline(cli, incident)[2]["at"] != entries[2]["at"]
    assert "entry 3 " in broken(cli("incident", "verify", str(incident)))


def test_deleted_middle_entry_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    delete_entry(engine, incident, 4)
    assert len(timeline(cli, incident)) == ENTRIES - 1
    line = broken(cli("incident", "verify", str(incident)))
    assert "entry 4 " in line
    assert "missing" in line


def test_deleted_first_entry_is_named(cli: Cli, incident: int, engine: Engine) -> None:
    delete_entry(engine, incident, 1)
    assert "entry 1 " in broken(cli("incident", "verify", str(incident)))


def test_deleted_middle_entry_with_renumbered_rest_fails(
    cli: Cli, incident: int, engine: Engine
) -> None:
    """Closing the gap by renumbering the later entries does not hide the removal."""
    delete_entry(engine, incident, 4)
    for seq in range(5, ENTRIES + 1):
        run_sql(
            engine,
            "UPDATE timeline_entries SET seq = :new WHERE incident_id = :i AND seq = :old",
            new=seq - 1,
            old=seq,
            i=incident,
        )
    assert [e["seq"] for e in timeline(cli, incident)] == list(range(1, ENTRIES))
    assert "entry 4 " in broken(cli("incident", "verify", str(incident)))


def test_swapped_entries_fail(cli: Cli, incident: int, engine: Engine) -> None:
    before = timeline(cli, incident)
    swap_seq(engine, incident, 3, 5)
    after = timeline(cli, incident)
    assert after[2]["kind"] == before[4]["kind"]
    assert after[4]["kind"] == before[2]["kind"]
    line = broken(cli("incident", "verify", str(incident)))
    assert "entry 3 " in line


def test_swapped_adjacent_entries_fail(cli: Cli, incident: int, engine: Engine) -> None:
    swap_seq(engine, incident, 6, 7)
    assert "entry 6 " in broken(cli("incident", "verify", str(incident)))


def test_deleted_last_entry_fails(cli: Cli, incident: int, engine: Engine) -> None:
    delete_entry(engine, incident, ENTRIES)
    entries = timeline(cli, incident)
    assert len(entries) == ENTRIES - 1
    line = broken(cli("incident", "verify", str(incident)))
    assert f"entry {ENTRIES} " in line
    assert "missing" in line


def test_deleted_last_entry_and_count_rewritten_fails(
    cli: Cli, incident: int, engine: Engine
) -> None:
    """Fixing the incident's count is not enough: the head hash still names the lost entry."""
    delete_entry(engine, incident, ENTRIES)
    run_sql(engine, "UPDATE incidents SET timeline_count = :n WHERE id = :i", n=ENTRIES - 1, i=1)
    assert f"entry {ENTRIES} " in broken(cli("incident", "verify", str(incident)))


def test_deleted_last_two_entries_fail(cli: Cli, incident: int, engine: Engine) -> None:
    delete_entry(engine, incident, ENTRIES)
    delete_entry(engine, incident, ENTRIES - 1)
    assert f"entry {ENTRIES - 1} " in broken(cli("incident", "verify", str(incident)))


def test_all_entries_deleted_fails(cli: Cli, incident: int, engine: Engine) -> None:
    run_sql(engine, "DELETE FROM timeline_entries WHERE incident_id = :i", i=incident)
    assert "entry 1 " in broken(cli("incident", "verify", str(incident)))


def test_tampering_one_incident_leaves_others_intact(
    cli: Cli, incident: int, engine: Engine
) -> None:
    result = cli("incident", "declare", "--title", "Other", "--severity", "P2")
    assert result.code == 0, result.err
    set_data(engine, incident, 2, {"phases": []})
    assert "entry 2 " in broken(cli("incident", "verify", str(incident)))
    other = cli("incident", "verify", "2")
    assert other.code == 0, other.err
    assert "intact (2 entries)" in other.out


def test_entries_keep_appending_after_verify(cli: Cli, incident: int) -> None:
    """Verifying is read-only; a later step still chains correctly."""
    assert cli("incident", "note", "1", "one more").code == 0
    result = cli("incident", "verify", "1")
    assert result.code == 0, result.err
    assert f"intact ({ENTRIES + 1} entries)" in result.out


# --- the API -------------------------------------------------------------------------------


@pytest.fixture
def api_incident(api: Api) -> int:
    created = api.client.post(
        "/api/v1/incidents",
        headers=api.responder,
        json={"title": "Checkout down", "severity": "P0"},
    )
    assert created.status_code == 201, created.text
    incident_id: int = created.json()["id"]
    base = f"/api/v1/incidents/{incident_id}"
    acked = api.client.post(f"{base}/acknowledge", headers=api.responder)
    assert acked.status_code == 200, acked.text
    for text_ in ("first", "second", "third"):
        note = api.client.post(f"{base}/notes", headers=api.responder, json={"text": text_})
        assert note.status_code == 201, note.text
    return incident_id


def verify_over_api(api: Api, incident_id: int) -> dict[str, Any]:
    response = api.client.get(
        f"/api/v1/incidents/{incident_id}/timeline/verify", headers=api.viewer
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_api_verify_intact(api: Api, api_incident: int) -> None:
    assert verify_over_api(api, api_incident) == {
        "ok": True,
        "checked": 6,
        "first_bad_seq": None,
        "problem": "",
    }


def test_api_verify_edited_entry(api: Api, api_incident: int, runtime: Runtime) -> None:
    set_data(runtime.engine, api_incident, 4, {"text": "forged"})
    body = verify_over_api(api, api_incident)
    assert body["ok"] is False
    assert body["first_bad_seq"] == 4
    assert body["checked"] == 3
    assert "entry 4" in body["problem"]


def test_api_verify_deleted_middle_entry(api: Api, api_incident: int, runtime: Runtime) -> None:
    delete_entry(runtime.engine, api_incident, 5)
    body = verify_over_api(api, api_incident)
    assert body["ok"] is False
    assert body["first_bad_seq"] == 5


def test_api_verify_swapped_entries(api: Api, api_incident: int, runtime: Runtime) -> None:
    swap_seq(runtime.engine, api_incident, 4, 5)
    body = verify_over_api(api, api_incident)
    assert body["ok"] is False
    assert body["first_bad_seq"] == 4


def test_api_verify_deleted_last_entry(api: Api, api_incident: int, runtime: Runtime) -> None:
    delete_entry(runtime.engine, api_incident, 6)
    body = verify_over_api(api, api_incident)
    assert body["ok"] is False
    assert body["first_bad_seq"] == 6
    assert body["checked"] == 5


def test_api_verify_unknown_incident_is_404(api: Api) -> None:
    response = api.client.get("/api/v1/incidents/999/timeline/verify", headers=api.viewer)
    assert response.status_code == 404


def test_api_verify_needs_a_token(api: Api, api_incident: int) -> None:
    response = api.client.get(f"/api/v1/incidents/{api_incident}/timeline/verify")
    assert response.status_code == 401
