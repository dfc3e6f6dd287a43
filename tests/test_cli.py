"""The ``warroom`` CLI end to end on both backends: incidents, people and tokens."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, CliResult
from warroom.cli import context as cli_context

P0_PHASES = ["p0-immediate-response", "p0-assessment", "p0-recovery"]
P1_PHASES = ["p1-assessment", "p1-mitigation", "p1-resolution"]


# --- helpers -------------------------------------------------------------------------------


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err
    return result


def as_json(result: CliResult) -> Any:
    return json.loads(ok(result).out)


def assert_error(result: CliResult, code: int, *fragments: str) -> str:
    """A clean failure: the exit code, one ``error:`` line on stderr, no traceback."""
    assert result.code == code, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err
    assert "Traceback" not in result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error:"), result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result: CliResult, *fragments: str) -> None:
    """A usage error from the argument parser: exit 2, no traceback."""
    assert result.code == 2, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


def declare(cli: Cli, title: str = "Checkout down", severity: str = "P0", *extra: str) -> dict:
    return as_json(
        cli("incident", "declare", "--title", title, "--severity", severity, "--json", *extra)
    )


def show(cli: Cli, incident_id: int) -> dict:
    return as_json(cli("incident", "show", str(incident_id), "--json"))


def timeline(cli: Cli, incident_id: int) -> list[dict]:
    return as_json(cli("incident", "timeline", str(incident_id), "--json"))


def task_by_key(incident: dict, key: str) -> dict:
    return next(t for p in incident["phases"] for t in p["tasks"] if t["key"] == key)


def role(incident: dict, key: str) -> dict:
    return next(r for r in incident["roles"] if r["key"] == key)


def people(cli: Cli) -> list[dict]:
    return as_json(cli("people", "list", "--json"))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- incident declare / list / show --------------------------------------------------------


def test_declare_prints_the_incident_for_people(cli: Cli) -> None:
    result = ok(
        cli(
            "incident",
            "declare",
            "--title",
            "Checkout down",
            "--severity",
            "P0",
            "--summary",
            "500s on /checkout",
        )
    )
    assert "declared incident 1" in result.out
    assert "Checkout down" in result.out
    assert "500s on /checkout" in result.out
    assert "P0 · operational · triggered" in result.out
    for name in ("Immediate Response", "Assessment", "Recovery"):
        assert name in result.out
    assert "Acknowledge alert in monitoring system" in result.out
    assert "Incident Commander" in result.out
    assert result.err == ""


def test_declare_json_has_the_whole_incident(cli: Cli) -> None:
    incident = declare(cli, "Login broken", "P1", "--summary", "SSO fails", "--source", "pager")
    assert incident["id"] == 1
    assert incident["title"] == "Login broken"
    assert incident["summary"] == "SSO fails"
    assert incident["source"] == "pager"
    assert incident["severity"] == "P1"
    assert incident["type"] == "operational"
    assert incident["status"] == "triggered"
    assert incident["created_by"] == "cli:tester"
    assert incident["allowed_actions"] == ["acknowledge", "mitigate", "resolve"]
    assert [p["key"] for p in incident["phases"]] == P1_PHASES
    assert {r["key"] for r in incident["roles"]} == {
        "incident-commander",
        "technical-lead",
        "communications-lead",
    }
    assert all(r["person"] is None and r["required"] for r in incident["roles"])


def test_declare_security_incident_runs_p0_and_security_tracks(cli: Cli) -> None:
    incident = declare(cli, "Credentials leaked", "P0", "--type", "security")
    assert incident["type"] == "security"
    assert [p["key"] for p in incident["phases"]] == [
        *P0_PHASES,
        "security-containment",
        "security-investigation",
        "security-recovery-notification",
    ]
    assert role(incident, "security-lead")["required"] is True


def test_show_json_phases_have_absolute_deadlines(cli: Cli) -> None:
    declared = declare(cli, "Checkout down", "P0")
    incident = show(cli, declared["id"])
    assert incident == declared | {"phases": incident["phases"]}  # same incident
    created = at(incident["created_at"])
    phases = {p["key"]: p for p in incident["phases"]}
    assert list(phases) == P0_PHASES
    windows = {
        "p0-immediate-response": (timedelta(0), timedelta(minutes=15)),
        "p0-assessment": (timedelta(minutes=15), timedelta(minutes=30)),
        "p0-recovery": (timedelta(minutes=30), None),
    }
    for key, (start, end) in windows.items():
        phase = phases[key]
        assert at(phase["starts_at"]) - created == start, key
        if end is None:
            assert phase["due_at"] is None
        else:
            assert at(phase["due_at"]) - created == end, key
        assert phase["stage"] == "response"
        assert phase["tasks"], key
        assert all(t["status"] == "open" for t in phase["tasks"])
    assert phases["p0-immediate-response"]["state"] == "running"
    assert phases["p0-assessment"]["state"] == "upcoming"
    assert incident["current_phase"] == "p0-immediate-response"
    assert at(incident["next_due_at"]) - created == timedelta(minutes=15)
    assert len(phases["p0-immediate-response"]["tasks"]) == 10
    assert len(phases["p0-assessment"]["tasks"]) == 12
    assert len(phases["p0-recovery"]["tasks"]) == 10


def test_show_text_lists_phases_with_due_times(cli: Cli) -> None:
    declare(cli, "Checkout down", "P1")
    result = ok(cli("incident", "show", "1"))
    assert "#1 Checkout down" in result.out
    for name in ("Assessment", "Mitigation", "Resolution"):
        assert name in result.out
    assert "due " in result.out
    assert "UNASSIGNED" in result.out


def test_show_text_names_each_phase_key(cli: Cli) -> None:
    """The phase headers read ``Assessment [p1-assessment] running · ...``."""
    declare(cli, "Checkout down", "P1")
    out = ok(cli("incident", "show", "1")).out
    for key in P1_PHASES:
        assert f"[{key}]" in out, out


# --- text output shows user text verbatim (no Rich markup) ---------------------------------


def test_titles_with_brackets_are_shown_verbatim(cli: Cli) -> None:
    declare(cli, "Checkout [eu-west-1] down", "P1")
    assert "Checkout [eu-west-1] down" in ok(cli("incident", "show", "1")).out
    assert "Checkout [eu-west-1] down" in ok(cli("incident", "list")).out
    assert "title=Checkout [eu-west-1] down" in ok(cli("incident", "timeline", "1")).out


def test_markup_like_title_does_not_crash_text_output(cli: Cli) -> None:
    title = "rollback [/] failed"
    result = cli("incident", "declare", "--title", title, "--severity", "P1")
    assert result.code == 0, result.err
    assert title in result.out
    assert title in ok(cli("incident", "show", "1")).out
    assert title in ok(cli("incident", "list")).out
    ok(cli("incident", "note", "1", "see [/bold] logs"))
    assert "see [/bold] logs" in ok(cli("incident", "timeline", "1")).out


def test_people_list_shows_names_verbatim(cli: Cli) -> None:
    ok(cli("people", "add", "--name", "Bob [ops]"))
    ok(cli("people", "add", "--name", "Eve [/sec]"))
    out = ok(cli("people", "list")).out
    assert "Bob [ops]" in out
    assert "Eve [/sec]" in out


def test_show_unknown_incident_exits_3(cli: Cli) -> None:
    assert_error(cli("incident", "show", "42"), 3, "incident 42 not found")


def test_list_filters_and_json(cli: Cli) -> None:
    declare(cli, "Checkout down", "P0")
    declare(cli, "Slow search", "P2", "--summary", "search latency p99 at 4s")
    declare(cli, "Token leak", "P1", "--type", "security")
    ok(cli("incident", "ack", "2"))

    page = as_json(cli("incident", "list", "--json"))
    assert page["total"] == 3
    assert page["limit"] == 50
    assert page["offset"] == 0
    assert [i["id"] for i in page["items"]] == [3, 2, 1]  # newest first

    def ids(*args: str) -> list[int]:
        data = as_json(cli("incident", "list", "--json", *args))
        assert data["total"] == len(data["items"])
        return [i["id"] for i in data["items"]]

    assert ids("--severity", "P0") == [1]
    assert ids("--severity", "P0", "--severity", "P2") == [2, 1]
    assert ids("--status", "acknowledged") == [2]
    assert ids("--status", "triggered") == [3, 1]
    assert ids("--type", "security") == [3]
    assert ids("--type", "operational", "--severity", "P2") == [2]
    assert ids("--q", "LATENCY") == [2]  # summary, case-insensitive
    assert ids("--q", "token") == [3]  # title
    assert ids("--q", "nothing like this") == []

    paged = as_json(cli("incident", "list", "--json", "--limit", "1", "--offset", "1"))
    assert paged["total"] == 3
    assert [i["id"] for i in paged["items"]] == [2]


def test_list_text_is_a_table(cli: Cli) -> None:
    declare(cli, "Checkout down", "P0")
    declare(cli, "Slow search", "P2")
    result = ok(cli("incident", "list"))
    assert "Checkout down" in result.out
    assert "Slow search" in result.out
    assert "2 of 2" in result.out


def test_list_with_unknown_status_is_a_clean_error(cli: Cli) -> None:
    assert_error(cli("incident", "list", "--status", "exploded"), 2, "status")


def test_list_with_bad_limit_is_a_clean_error(cli: Cli) -> None:
    assert_error(cli("incident", "list", "--limit", "0"), 2, "limit")


# --- declare: bad input --------------------------------------------------------------------


def test_declare_unknown_severity_writes_nothing(cli: Cli) -> None:
    assert_error(
        cli("incident", "declare", "--title", "x", "--severity", "P9"),
        2,
        "severity",
        "P9",
    )
    assert as_json(cli("incident", "list", "--json"))["total"] == 0


def test_declare_unknown_type_writes_nothing(cli: Cli) -> None:
    assert_error(
        cli("incident", "declare", "--title", "x", "--severity", "P1", "--type", "alien"),
        2,
        "type",
    )
    assert as_json(cli("incident", "list", "--json"))["total"] == 0


def test_declare_empty_title_is_a_clean_error(cli: Cli) -> None:
    assert_error(cli("incident", "declare", "--title", "  ", "--severity", "P1"), 2, "title")
    assert as_json(cli("incident", "list", "--json"))["total"] == 0


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (("incident", "declare", "--severity", "P1"), "--title"),
        (("incident", "declare", "--title", "x"), "--severity"),
        (("people", "add", "--email", "a@example.com"), "--name"),
        (("token", "create", "--role", "viewer"), "--name"),
    ],
)
def test_missing_required_option_exits_2(cli: Cli, args: tuple[str, ...], missing: str) -> None:
    assert_usage_error(cli(*args), missing)


@pytest.mark.parametrize(
    "args",
    [
        ("incident", "show"),
        ("incident", "assign", "1", "incident-commander"),
        ("incident", "note", "1"),
        ("people", "import"),
    ],
)
def test_missing_argument_exits_2(cli: Cli, args: tuple[str, ...]) -> None:
    assert_usage_error(cli(*args))


def test_non_numeric_incident_id_exits_2(cli: Cli) -> None:
    assert_usage_error(cli("incident", "show", "abc"))


# --- lifecycle -----------------------------------------------------------------------------


def test_lifecycle_through_every_transition(cli: Cli) -> None:
    declare(cli)
    steps = [
        ("ack", "acknowledged"),
        ("mitigate", "mitigated"),
        ("resolve", "resolved"),
        ("close", "closed"),
        ("reopen", "triggered"),
    ]
    for command, status in steps:
        result = ok(cli("incident", command, "1"))
        assert result.out.strip() == f"incident 1 is {status}"
        assert show(cli, 1)["status"] == status
    kinds = [e["kind"] for e in timeline(cli, 1)]
    assert kinds == [
        "declared",
        "phases_planned",
        "acknowledged",
        "mitigated",
        "resolved",
        "phases_planned",  # the post-incident stages
        "closed",
        "reopened",
    ]


def test_transition_json_and_timestamps(cli: Cli) -> None:
    declare(cli)
    acked = as_json(cli("incident", "ack", "1", "--json", "--note", "on it"))
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_at"] is not None
    resolved = as_json(cli("incident", "resolve", "1", "--json"))
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["allowed_actions"] == ["close", "reopen"]
    post = [p["key"] for p in resolved["phases"] if p["stage"] == "post_incident"]
    assert post == ["immediate", "short-term", "long-term"]
    reopened = as_json(cli("incident", "reopen", "1", "--json"))
    assert reopened["status"] == "triggered"
    assert reopened["resolved_at"] is None
    assert reopened["closed_at"] is None
    entry = timeline(cli, 1)[2]
    assert entry["kind"] == "acknowledged"
    assert entry["data"] == {"from": "triggered", "to": "acknowledged", "note": "on it"}


@pytest.mark.parametrize(
    ("before", "command"),
    [
        ((), "close"),
        ((), "reopen"),
        (("ack",), "ack"),
        (("resolve",), "mitigate"),
        (("resolve", "close"), "resolve"),
    ],
)
def test_illegal_transition_exits_4_and_writes_nothing(
    cli: Cli, before: tuple[str, ...], command: str
) -> None:
    declare(cli)
    for step in before:
        ok(cli("incident", step, "1"))
    incident_before = show(cli, 1)
    entries_before = timeline(cli, 1)
    line = assert_error(cli("incident", command, "1"), 4, "cannot")
    assert incident_before["status"] in line
    assert show(cli, 1) == incident_before
    assert timeline(cli, 1) == entries_before


def test_transition_of_unknown_incident_exits_3(cli: Cli) -> None:
    assert_error(cli("incident", "ack", "7"), 3, "incident 7 not found")


# --- update --------------------------------------------------------------------------------


def test_update_severity_to_p0_replans_phases(cli: Cli) -> None:
    declared = declare(cli, "Checkout slow", "P1")
    assert [p["key"] for p in declared["phases"]] == P1_PHASES
    ok(cli("incident", "task", "1", "identify-components"))
    updated = as_json(
        cli("incident", "update", "1", "--severity", "P0", "--reason", "full outage", "--json")
    )
    assert updated["severity"] == "P0"
    assert [p["key"] for p in updated["phases"]] == P0_PHASES
    first = updated["phases"][0]
    assert first["due_at"] is not None
    assert at(first["due_at"]) - at(first["starts_at"]) == timedelta(minutes=15)
    # the P0 clocks start at the change, not at the declaration
    assert at(first["starts_at"]) >= at(declared["created_at"])
    entries = timeline(cli, 1)
    kinds = [e["kind"] for e in entries]
    assert kinds[-2:] == ["updated", "phases_replanned"]
    assert entries[-2]["data"]["changes"] == {"severity": {"from": "P1", "to": "P0"}}
    assert entries[-2]["data"]["reason"] == "full outage"
    assert sorted(entries[-1]["data"]["dropped"]) == sorted(P1_PHASES)
    assert [p["key"] for p in entries[-1]["data"]["phases"]] == P0_PHASES


def test_update_title_prints_incident(cli: Cli) -> None:
    declare(cli, "Checkout slow", "P2")
    result = ok(cli("incident", "update", "1", "--title", "Checkout very slow"))
    assert "Checkout very slow" in result.out
    assert show(cli, 1)["title"] == "Checkout very slow"


def test_update_unknown_severity_writes_nothing(cli: Cli) -> None:
    declare(cli, "Checkout slow", "P1")
    before = timeline(cli, 1)
    assert_error(cli("incident", "update", "1", "--severity", "P7"), 2, "severity")
    assert show(cli, 1)["severity"] == "P1"
    assert timeline(cli, 1) == before


# --- roles ---------------------------------------------------------------------------------


def _add_people(cli: Cli) -> None:
    ok(cli("people", "add", "--name", "Ada Lovelace", "--email", "ada@example.com"))
    ok(cli("people", "add", "--name", "Grace Hopper", "--email", "grace@example.com"))
    ok(cli("people", "add", "--name", "Linus Torvalds"))


def test_assign_by_email_name_and_id(cli: Cli) -> None:
    _add_people(cli)
    declare(cli)
    result = ok(cli("incident", "assign", "1", "incident-commander", "ADA@example.com"))
    assert result.out.strip() == "Ada Lovelace is incident-commander of incident 1"
    ok(cli("incident", "assign", "1", "technical-lead", "grace hopper"))
    ok(cli("incident", "assign", "1", "communications-lead", "3"))
    ok(cli("incident", "assign", "1", "database-administrator", "Linus Torvalds"))
    incident = show(cli, 1)
    assert role(incident, "incident-commander")["person"] == {"id": 1, "name": "Ada Lovelace"}
    assert role(incident, "technical-lead")["person"] == {"id": 2, "name": "Grace Hopper"}
    assert role(incident, "communications-lead")["person"] == {"id": 3, "name": "Linus Torvalds"}
    extended = role(incident, "database-administrator")
    assert extended["required"] is False
    assert extended["person"]["name"] == "Linus Torvalds"
    assigned = [e for e in timeline(cli, 1) if e["kind"] == "role_assigned"]
    assert [e["data"]["role"] for e in assigned] == [
        "incident-commander",
        "technical-lead",
        "communications-lead",
        "database-administrator",
    ]


def test_assign_replaces_the_holder(cli: Cli) -> None:
    _add_people(cli)
    declare(cli)
    ok(cli("incident", "assign", "1", "incident-commander", "1"))
    ok(cli("incident", "assign", "1", "incident-commander", "2"))
    assert role(show(cli, 1), "incident-commander")["person"]["id"] == 2
    last = timeline(cli, 1)[-1]
    assert last["data"]["replaced_person_id"] == 1


@pytest.mark.parametrize("person", ["nobody@example.com", "Nobody", "99"])
def test_assign_unknown_person_exits_3(cli: Cli, person: str) -> None:
    _add_people(cli)
    declare(cli)
    before = timeline(cli, 1)
    assert_error(cli("incident", "assign", "1", "incident-commander", person), 3)
    assert role(show(cli, 1), "incident-commander")["person"] is None
    assert timeline(cli, 1) == before


def test_assign_unknown_role_exits_3(cli: Cli) -> None:
    _add_people(cli)
    declare(cli)
    before = timeline(cli, 1)
    assert_error(cli("incident", "assign", "1", "chief-of-vibes", "1"), 3, "chief-of-vibes")
    assert timeline(cli, 1) == before


def test_assign_on_unknown_incident_exits_3(cli: Cli) -> None:
    _add_people(cli)
    assert_error(cli("incident", "assign", "5", "incident-commander", "1"), 3, "incident 5")


def test_unassign(cli: Cli) -> None:
    _add_people(cli)
    declare(cli)
    ok(cli("incident", "assign", "1", "incident-commander", "ada@example.com"))
    result = ok(cli("incident", "unassign", "1", "incident-commander"))
    assert "unassigned" in result.out
    assert role(show(cli, 1), "incident-commander")["person"] is None
    last = timeline(cli, 1)[-1]
    assert last["kind"] == "role_unassigned"
    assert last["data"] == {"role": "incident-commander", "person_id": 1}
    # a second time there is nothing to unassign
    before = timeline(cli, 1)
    assert_error(cli("incident", "unassign", "1", "incident-commander"), 3)
    assert timeline(cli, 1) == before


# --- tasks ---------------------------------------------------------------------------------


def test_task_done_skip_and_reopen(cli: Cli) -> None:
    declare(cli)
    result = ok(cli("incident", "task", "1", "detect-monitoring"))
    assert result.out.strip() == "task 'Automated monitoring alerts' is done"
    ok(cli("incident", "task", "1", "page-oncall", "--skip", "on-call already paged"))
    incident = show(cli, 1)
    done = task_by_key(incident, "detect-monitoring")
    assert done["status"] == "done"
    assert done["done_by"] == "cli:tester"
    assert done["done_at"] is not None
    skipped = task_by_key(incident, "page-oncall")
    assert skipped["status"] == "skipped"
    assert skipped["skip_reason"] == "on-call already paged"

    ok(cli("incident", "task", "1", "detect-monitoring", "--reopen"))
    reopened = task_by_key(show(cli, 1), "detect-monitoring")
    assert reopened["status"] == "open"
    assert reopened["done_at"] is None
    assert reopened["done_by"] is None

    entries = timeline(cli, 1)
    assert [e["kind"] for e in entries[2:]] == [
        "task_completed",
        "task_skipped",
        "task_reopened",
    ]
    assert entries[3]["data"]["reason"] == "on-call already paged"
    assert entries[3]["data"]["phase"] == "p0-immediate-response"


def test_task_by_id_and_by_phase_and_key(cli: Cli) -> None:
    incident = declare(cli)
    task_id = task_by_key(incident, "check-database")["id"]
    ok(cli("incident", "task", "1", str(task_id)))
    ok(cli("incident", "task", "1", "p0-recovery/validate-restoration"))
    after = show(cli, 1)
    assert task_by_key(after, "check-database")["status"] == "done"
    assert task_by_key(after, "validate-restoration")["status"] == "done"


def test_task_text_shows_marks(cli: Cli) -> None:
    declare(cli)
    ok(cli("incident", "task", "1", "detect-monitoring"))
    ok(cli("incident", "task", "1", "detect-customers", "--skip", "no customers yet"))
    out = ok(cli("incident", "show", "1")).out
    assert "[x]" in out
    assert "[-]" in out
    assert "no customers yet" in out


@pytest.mark.parametrize("ref", ["no-such-task", "999999", "p0-assessment/detect-monitoring"])
def test_unknown_task_exits_3(cli: Cli, ref: str) -> None:
    declare(cli)
    before = timeline(cli, 1)
    assert_error(cli("incident", "task", "1", ref), 3, ref)
    assert timeline(cli, 1) == before


def test_task_done_twice_is_a_conflict(cli: Cli) -> None:
    declare(cli)
    ok(cli("incident", "task", "1", "detect-monitoring"))
    before = timeline(cli, 1)
    assert_error(cli("incident", "task", "1", "detect-monitoring"), 4, "already done")
    assert timeline(cli, 1) == before


def test_task_skip_with_blank_reason_is_refused(cli: Cli) -> None:
    declare(cli)
    before = timeline(cli, 1)
    assert_error(cli("incident", "task", "1", "detect-monitoring", "--skip", "  "), 2, "reason")
    assert task_by_key(show(cli, 1), "detect-monitoring")["status"] == "open"
    assert timeline(cli, 1) == before


def test_task_skip_and_reopen_together_is_refused(cli: Cli) -> None:
    declare(cli)
    assert_error(cli("incident", "task", "1", "detect-monitoring", "--skip", "x", "--reopen"), 2)


def test_task_of_retired_phase_is_not_found(cli: Cli) -> None:
    declare(cli, "Checkout slow", "P1")
    ok(cli("incident", "update", "1", "--severity", "P0"))
    assert_error(cli("incident", "task", "1", "identify-components"), 3)


# --- notes, timeline, verify ---------------------------------------------------------------


def test_note(cli: Cli) -> None:
    declare(cli)
    result = ok(cli("incident", "note", "1", "rolled back deploy 4711"))
    assert result.out.strip() == "note added as timeline entry 3"
    last = timeline(cli, 1)[-1]
    assert last["kind"] == "note"
    assert last["data"] == {"text": "rolled back deploy 4711"}
    assert last["actor"] == "cli:tester"


def test_empty_note_is_refused(cli: Cli) -> None:
    declare(cli)
    before = timeline(cli, 1)
    assert_error(cli("incident", "note", "1", "   "), 2, "note")
    assert timeline(cli, 1) == before


def test_note_on_unknown_incident_exits_3(cli: Cli) -> None:
    assert_error(cli("incident", "note", "3", "hello"), 3, "incident 3")


def test_timeline_json_records_every_step_with_the_actor(cli: Cli) -> None:
    _add_people(cli)
    declare(cli, "Checkout down", "P1")
    for args in (
        ("ack", "1"),
        ("assign", "1", "incident-commander", "ada@example.com"),
        ("task", "1", "identify-components"),
        ("task", "1", "assess-user-impact", "--skip", "known"),
        ("task", "1", "assess-user-impact", "--reopen"),
        ("note", "1", "looking at the load balancer"),
        ("update", "1", "--severity", "P0"),
        ("unassign", "1", "incident-commander"),
        ("mitigate", "1"),
        ("resolve", "1"),
        ("close", "1"),
    ):
        ok(cli("incident", *args))
    entries = timeline(cli, 1)
    assert [e["kind"] for e in entries] == [
        "declared",
        "phases_planned",
        "acknowledged",
        "role_assigned",
        "task_completed",
        "task_skipped",
        "task_reopened",
        "note",
        "updated",
        "phases_replanned",
        "role_unassigned",
        "mitigated",
        "resolved",
        "phases_planned",
        "closed",
    ]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    for entry in entries:
        expected = "warroom" if entry["kind"] == "phases_planned" else "cli:tester"
        assert entry["actor"] == expected, entry
        assert len(entry["hash"]) == 64
        at(entry["at"])
    times = [at(e["at"]) for e in entries]
    assert times == sorted(times)
    assert show(cli, 1)["revision"] == len(entries)

    result = ok(cli("incident", "verify", "1"))
    assert result.out.strip() == f"timeline of incident 1 is intact ({len(entries)} entries)"


def test_timeline_text_is_a_table(cli: Cli) -> None:
    declare(cli)
    ok(cli("incident", "note", "1", "first note"))
    out = ok(cli("incident", "timeline", "1")).out
    assert "declared" in out
    assert "cli:tester" in out
    assert "text=first note" in out


def test_timeline_and_verify_of_unknown_incident_exit_3(cli: Cli) -> None:
    assert_error(cli("incident", "timeline", "8"), 3, "incident 8")
    assert_error(cli("incident", "verify", "8"), 3, "incident 8")


def test_verify_fresh_incident(cli: Cli) -> None:
    declare(cli)
    result = ok(cli("incident", "verify", "1"))
    assert "intact (2 entries)" in result.out


# --- people --------------------------------------------------------------------------------


def test_people_add_and_list(cli: Cli) -> None:
    result = ok(
        cli(
            "people",
            "add",
            "--name",
            "Ada Lovelace",
            "--email",
            "Ada@Example.com",
            "--phone",
            "+4930123456",
            "--chat-id",
            "U123",
            "--timezone",
            "Europe/Berlin",
        )
    )
    assert result.out.strip() == "added person 1: Ada Lovelace"
    grace = as_json(cli("people", "add", "--name", "Grace Hopper", "--json"))
    assert grace["id"] == 2
    assert grace["timezone"] == "UTC"
    assert grace["email"] is None

    listed = people(cli)
    assert [p["name"] for p in listed] == ["Ada Lovelace", "Grace Hopper"]
    ada = listed[0]
    assert ada["email"] == "ada@example.com"
    assert ada["phone"] == "+4930123456"
    assert ada["chat_id"] == "U123"
    assert ada["timezone"] == "Europe/Berlin"
    assert set(ada) >= {"id", "name", "email", "phone", "chat_id", "timezone", "created_at"}

    table = ok(cli("people", "list")).out
    assert "Ada Lovelace" in table
    assert "Europe/Berlin" in table


@pytest.mark.parametrize("phone", ["030 123456", "4930123456", "+0301234567", "+49-30-123"])
def test_people_add_bad_phone_exits_2_and_adds_nobody(cli: Cli, phone: str) -> None:
    assert_error(cli("people", "add", "--name", "Ada", "--phone", phone), 2, "phone")
    assert people(cli) == []


def test_people_add_unknown_time_zone_exits_2(cli: Cli) -> None:
    line = assert_error(cli("people", "add", "--name", "Ada", "--timezone", "Mars/Olympus"), 2)
    assert "time zone" in line or "timezone" in line
    assert people(cli) == []


def test_people_add_bad_email_exits_2(cli: Cli) -> None:
    assert_error(cli("people", "add", "--name", "Ada", "--email", "not-an-email"), 2, "email")
    assert people(cli) == []


def test_people_add_duplicate_email_is_refused(cli: Cli) -> None:
    ok(cli("people", "add", "--name", "Ada", "--email", "ada@example.com"))
    assert_error(cli("people", "add", "--name", "Ada 2", "--email", "ADA@example.com"), 4, "email")
    assert [p["name"] for p in people(cli)] == ["Ada"]


def test_people_import_yaml(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "- name: Ada Lovelace\n"
        "  email: ada@example.com\n"
        "  phone: '+4930123456'\n"
        "  timezone: Europe/Berlin\n"
        "- name: Grace Hopper\n"
        "  chat_id: U42\n",
        encoding="utf-8",
    )
    result = ok(cli("people", "import", str(path)))
    assert result.out.strip() == "imported 2 people"
    listed = {p["name"]: p for p in people(cli)}
    assert listed["Ada Lovelace"]["phone"] == "+4930123456"
    assert listed["Ada Lovelace"]["timezone"] == "Europe/Berlin"
    assert listed["Grace Hopper"]["chat_id"] == "U42"
    assert listed["Grace Hopper"]["timezone"] == "UTC"


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_people_export_reads_back_with_import(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    ok(cli("people", "add", "--name", "Ada Lovelace", "--email", "ada@example.com",
           "--phone", "+4930123456", "--timezone", "Europe/Berlin"))  # fmt: skip
    ok(cli("people", "add", "--name", "Grace, Hopper", "--chat-id", "U42"))
    exported = ok(cli("people", "export", "--format", fmt)).out
    before = [{k: v for k, v in p.items() if k not in ("id", "created_at")} for p in people(cli)]
    path = tmp_path / f"people.{fmt}"
    path.write_text(exported, encoding="utf-8")
    cli_context.runtime().engine.dispose()  # a fresh database for the import
    cli_context.runtime.cache_clear()
    monkeypatch.setenv("WARROOM_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert ok(cli("people", "import", str(path))).out.strip() == "imported 2 people"
    after = [{k: v for k, v in p.items() if k not in ("id", "created_at")} for p in people(cli)]
    cli_context.runtime().engine.dispose()
    cli_context.runtime.cache_clear()
    assert after == before
    bad = cli("people", "export", "--format", "xml")
    assert bad.code == 2
    assert "--format" in bad.err


def test_people_import_yaml_mapping_with_people_list(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "team.yml"
    path.write_text("people:\n  - {name: Ada}\n  - {name: Grace}\n", encoding="utf-8")
    assert ok(cli("people", "import", str(path))).out.strip() == "imported 2 people"
    assert [p["name"] for p in people(cli)] == ["Ada", "Grace"]


def test_people_import_csv(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,phone,chat_id,timezone\n"
        "Ada Lovelace,ada@example.com,+4930123456,U1,Europe/Berlin\n"
        "Grace Hopper,grace@example.com,,,America/New_York\n",
        encoding="utf-8",
    )
    assert ok(cli("people", "import", str(path))).out.strip() == "imported 2 people"
    listed = {p["name"]: p for p in people(cli)}
    assert listed["Ada Lovelace"]["chat_id"] == "U1"
    assert listed["Grace Hopper"]["phone"] is None
    assert listed["Grace Hopper"]["chat_id"] is None
    assert listed["Grace Hopper"]["timezone"] == "America/New_York"


def test_people_import_csv_blank_time_zone_means_utc(cli: Cli, tmp_path: Path) -> None:
    """A blank optional cell is read as absent, so the time zone takes its default."""
    path = tmp_path / "people.csv"
    path.write_text("name,email,timezone\nAda Lovelace,ada@example.com,\n", encoding="utf-8")
    ok(cli("people", "import", str(path)))
    assert people(cli)[0]["timezone"] == "UTC"


@pytest.mark.parametrize("suffix", ["yaml", "csv"])
def test_people_import_with_one_bad_record_adds_nobody(
    cli: Cli, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"people.{suffix}"
    if suffix == "yaml":
        path.write_text(
            "- {name: Ada, email: ada@example.com}\n"
            "- {name: Grace, phone: '12345'}\n"
            "- {name: Linus}\n",
            encoding="utf-8",
        )
    else:
        path.write_text(
            "name,email,phone\nAda,ada@example.com,\nGrace,,12345\nLinus,,\n", encoding="utf-8"
        )
    assert_error(cli("people", "import", str(path)), 2, "record 2", "phone")
    assert people(cli) == []


def test_people_import_conflicting_with_directory_adds_nobody(cli: Cli, tmp_path: Path) -> None:
    ok(cli("people", "add", "--name", "Existing", "--email", "grace@example.com"))
    path = tmp_path / "people.yaml"
    path.write_text(
        "- {name: Ada, email: ada@example.com}\n- {name: Grace, email: grace@example.com}\n",
        encoding="utf-8",
    )
    assert_error(cli("people", "import", str(path)), 4, "grace@example.com")
    assert [p["name"] for p in people(cli)] == ["Existing"]


def test_people_import_duplicate_within_file_adds_nobody(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,email\nAda,ada@example.com\nAda Two,ADA@example.com\n", "utf-8")
    assert_error(cli("people", "import", str(path)), 4, "ada@example.com")
    assert people(cli) == []


def test_people_import_unknown_field_adds_nobody(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text("- {name: Ada}\n- {name: Grace, pager: 123}\n", encoding="utf-8")
    assert_error(cli("people", "import", str(path)), 2, "record 2", "pager")
    assert people(cli) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("- name: [unclosed\n", "not valid YAML"),
        ("name: Ada\n", "expected a list of people"),
        ("- just a string\n", "expected a list of people"),
    ],
)
def test_people_import_malformed_file(
    cli: Cli, tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(content, encoding="utf-8")
    assert_error(cli("people", "import", str(path)), 2, fragment)
    assert people(cli) == []


def test_people_import_missing_file(cli: Cli, tmp_path: Path) -> None:
    assert_error(cli("people", "import", str(tmp_path / "nope.yaml")), 2, "cannot read")


# --- tokens --------------------------------------------------------------------------------


def test_token_create_prints_a_token_once(cli: Cli) -> None:
    result = ok(cli("token", "create", "--name", "x", "--role", "viewer"))
    token = result.out.strip()
    assert token.startswith("wr_")
    assert len(token) > 20
    assert "\n" not in token
    second = ok(cli("token", "create", "--name", "y"))
    assert second.out.strip().startswith("wr_")
    assert second.out.strip() != token


def test_token_create_same_name_fails(cli: Cli) -> None:
    ok(cli("token", "create", "--name", "x", "--role", "viewer"))
    result = cli("token", "create", "--name", "x", "--role", "admin")
    assert result.code != 0
    assert_error(result, result.code, "x")
    assert "wr_" not in result.out


def test_token_create_invalid_role_exits_2(cli: Cli) -> None:
    result = cli("token", "create", "--name", "x", "--role", "superuser")
    assert_error(result, 2, "role")
    assert "wr_" not in result.out
    # the name is still free: nothing was written
    ok(cli("token", "create", "--name", "x", "--role", "viewer"))


def test_token_create_blank_name_exits_2(cli: Cli) -> None:
    assert_error(cli("token", "create", "--name", "  "), 2, "name")
