"""``warroom playbook validate | show | suggest`` on the default playbook and broken copies."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Cli, CliResult

DEFAULT_PLAYBOOK = Path(str(resources.files("warroom.playbook").joinpath("default.yaml")))
SOURCE_PLAYBOOK = Path(__file__).resolve().parents[1] / "src/warroom/playbook/default.yaml"

Data = dict[str, Any]


@pytest.fixture(scope="module")
def default_data() -> Data:
    data: Data = yaml.safe_load(DEFAULT_PLAYBOOK.read_text("utf-8"))
    return data


@pytest.fixture
def broken(default_data: Data, tmp_path: Path) -> Callable[[Callable[[Data], None]], Path]:
    """Write a copy of the default playbook, changed by ``edit``, to tmp_path."""

    def make(edit: Callable[[Data], None]) -> Path:
        data = copy.deepcopy(default_data)
        edit(data)
        path = tmp_path / "playbook.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        return path

    return make


def validate(cli: Cli, path: Path) -> CliResult:
    result = cli("playbook", "validate", str(path))
    assert "Traceback" not in result.err
    assert "Traceback" not in result.out
    return result


def problems(result: CliResult) -> list[str]:
    """The problem lines of a failed validation (without the file prefix and the count)."""
    assert result.code != 0, result.out
    assert result.code == 2
    text = result.out + result.err
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1].endswith("problem(s)"), text
    return lines[:-1]


# --- validate ------------------------------------------------------------------------------


def test_default_playbook_is_valid(cli: Cli) -> None:
    assert SOURCE_PLAYBOOK.read_text("utf-8") == DEFAULT_PLAYBOOK.read_text("utf-8")
    result = validate(cli, SOURCE_PLAYBOOK)
    assert result.code == 0, result.out + result.err
    assert "valid (4 severities" in result.out


def test_unchanged_copy_is_valid(cli: Cli, broken: Callable[..., Path]) -> None:
    path = broken(lambda data: None)
    result = validate(cli, path)
    assert result.code == 0, result.out + result.err


def test_window_end_before_start(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["phases"]["P0"][1]["window"] = {"start": "30m", "end": "15m"}

    path = broken(edit)
    lines = problems(validate(cli, path))
    assert lines == [f"{path}: phases.P0[1].window: end before start"]


def test_window_end_equal_to_start(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["phases"]["P1"][2]["window"] = {"start": "45m", "end": "45m"}

    lines = problems(validate(cli, broken(edit)))
    assert any("phases.P1[2].window: end before start" in line for line in lines), lines


def test_bad_duration(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["severities"][2]["update_every"] = "soon"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "severities[2].update_every" in lines[0]
    assert "soon" in lines[0]


def test_unknown_severity_in_plans(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["plans"]["operational"]["P9"] = ["P0"]

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "plans.operational.P9: unknown severity" in lines[0]


def test_unknown_phase_set_in_plans(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["plans"]["security"]["P1"] = ["security", "P5"]

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "plans.security.P1[1]: unknown phase set 'P5'" in lines[0]


def test_unknown_runbook_referenced_by_a_task(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["phases"]["P0"][1]["tasks"][2]["runbook"] = "check-the-databse"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "phases.P0[1].tasks[2].runbook: unknown runbook 'check-the-databse'" in lines[0]


def test_unknown_field_is_named(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["roles"][0]["requird_for"] = data["roles"][0].pop("required_for")

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "roles[0].requird_for" in lines[0]


def test_unknown_top_level_field_is_named(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["templtes"] = data.pop("templates")

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert ": templtes:" in lines[0]


def test_missing_required_field_is_named(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        del data["severities"][1]["name"]

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "severities[1].name" in lines[0]


def test_invalid_yaml_names_a_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text(
        "version: 1\nname: Broken\nseverities:\n  - key: P0\n    name: [Critical\n"
        "    criteria: [x]\n",
        "utf-8",
    )
    lines = problems(validate(cli, path))
    assert len(lines) == 1
    assert "not valid YAML" in lines[0]
    assert "line " in lines[0]
    assert any(f"line {n}" in lines[0] for n in (5, 6)), lines[0]


def test_yaml_tabs_name_the_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text("version: 1\nname: x\n\tseverities: []\n", "utf-8")
    lines = problems(validate(cli, path))
    assert len(lines) == 1
    assert "line 3" in lines[0]


def test_yaml_that_is_not_a_mapping(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text("- just\n- a list\n", "utf-8")
    lines = problems(validate(cli, path))
    assert len(lines) == 1
    assert "mapping" in lines[0]


def test_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = validate(cli, tmp_path / "nope.yaml")
    assert result.code != 0
    assert "cannot read" in result.out + result.err


def test_template_with_jinja_syntax_error(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["templates"][1]["body"] = "We are experiencing {{ description affecting things.\n"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "templates[1].body" in lines[0]
    assert "line 1" in lines[0]


def test_template_subject_with_jinja_syntax_error(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["templates"][2]["subject"] = "Resolved {% if %}"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 1
    assert "templates[2].subject" in lines[0]


def test_duplicate_keys(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["roles"][5]["key"] = data["roles"][4]["key"]
        data["phases"]["P2"][0]["tasks"][1]["key"] = "identify-components"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 2
    assert any("roles[5].key: duplicate key 'database-administrator'" in x for x in lines)
    assert any("phases.P2[0].tasks[1].key: duplicate key" in x for x in lines)


def test_unknown_commander_and_guide_severity(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["commander_role"] = "boss"
        data["severity_guide"]["rules"][3]["severity"] = "P7"
        data["roles"][3]["required_for"] = ["security", "cosmic"]

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 3
    text = "\n".join(lines)
    assert "commander_role: unknown role 'boss'" in text
    assert "severity_guide.rules[3].severity: unknown severity 'P7'" in text
    assert "roles[3].required_for: unknown incident type 'cosmic'" in text


def test_several_schema_problems_are_all_reported(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["phases"]["P0"][1]["window"] = {"start": "30m", "end": "15m"}
        data["roles"][0]["requird_for"] = data["roles"][0].pop("required_for")
        data["templates"][0]["audience"] = "everyone"
        data["severities"][3]["update_every"] = "whenever"

    path = broken(edit)
    lines = problems(validate(cli, path))
    assert len(lines) == 4, lines
    text = "\n".join(lines)
    assert f"{path}: phases.P0[1].window: end before start" in text
    assert "roles[0].requird_for" in text
    assert "templates[0].audience" in text
    assert "severities[3].update_every" in text
    assert validate(cli, path).out.strip().endswith("4 problem(s)")


def test_several_cross_reference_problems_are_all_reported(
    cli: Cli, broken: Callable[..., Path]
) -> None:
    def edit(data: Data) -> None:
        data["plans"]["operational"]["P9"] = ["P0"]
        data["phases"]["P0"][0]["tasks"][0]["runbook"] = "nope"
        data["templates"][1]["body"] = "{{ unclosed"

    lines = problems(validate(cli, broken(edit)))
    assert len(lines) == 3, lines
    text = "\n".join(lines)
    assert "plans.operational.P9: unknown severity" in text
    assert "phases.P0[0].tasks[0].runbook: unknown runbook 'nope'" in text
    assert "templates[1].body" in text


def test_schema_and_cross_reference_problems_are_reported_together(
    cli: Cli, broken: Callable[..., Path]
) -> None:
    """A bad window must not hide an unknown runbook: every bad field is named in one run."""

    def edit(data: Data) -> None:
        data["phases"]["P0"][1]["window"] = {"start": "30m", "end": "15m"}
        data["phases"]["P0"][0]["tasks"][0]["runbook"] = "nope"
        data["templates"][1]["body"] = "{{ unclosed"

    lines = problems(validate(cli, broken(edit)))
    text = "\n".join(lines)
    assert "phases.P0[1].window: end before start" in text
    assert "phases.P0[0].tasks[0].runbook: unknown runbook 'nope'" in text
    assert "templates[1].body" in text


# --- show ----------------------------------------------------------------------------------


def test_show_prints_severities_roles_and_phases(cli: Cli) -> None:
    result = cli("playbook", "show")
    assert result.code == 0, result.err
    out = result.out
    assert "Emergency Response Procedures" in out
    for key, name in (("P0", "Critical"), ("P1", "High"), ("P2", "Medium"), ("P3", "Low")):
        assert key in out
        assert name in out
    for role in (
        "Incident Commander",
        "Technical Lead",
        "Communications Lead",
        "Security Lead",
        "Database Administrator",
        "Network Engineer",
        "Legal Counsel",
        "Customer Success Manager",
    ):
        assert role in out, role
    assert "Immediate Response" in out
    assert "0m–15m" in out
    assert "30m–" in out
    assert "Internal Alert" in out
    assert "Post-incident: Immediate (0m–1d)" in out


def test_show_json(cli: Cli) -> None:
    result = cli("playbook", "show", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [s["key"] for s in data["severities"]] == ["P0", "P1", "P2", "P3"]
    assert data["severities"][0]["update_every"] == "30m"
    assert [p["window"] for p in data["phases"]["P0"]] == [
        {"start": "0m", "end": "15m"},
        {"start": "15m", "end": "30m"},
        {"start": "30m", "end": None},
    ]
    assert [p["window"] for p in data["phases"]["P1"]] == [
        {"start": "0m", "end": "15m"},
        {"start": "15m", "end": "45m"},
        {"start": "45m", "end": "1h"},
    ]
    assert [p["window"] for p in data["phases"]["security"]] == [
        {"start": "0m", "end": "30m"},
        {"start": "30m", "end": "1d"},
        {"start": "1d", "end": "3d"},
    ]
    assert data["plans"]["security"]["P0"] == ["P0", "security"]
    assert {r["key"] for r in data["roles"]} >= {
        "incident-commander",
        "technical-lead",
        "communications-lead",
        "security-lead",
    }
    assert len(data["templates"]) == 3


def test_show_json_of_a_file_round_trips(cli: Cli, tmp_path: Path) -> None:
    """What ``show --json`` prints is itself a valid playbook."""
    data = json.loads(cli("playbook", "show", "--json").out)
    path = tmp_path / "roundtrip.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    assert validate(cli, path).code == 0
    again = cli("playbook", "show", "--json", "--file", str(path))
    assert again.code == 0, again.err
    assert json.loads(again.out) == data


def test_show_of_a_broken_file_is_a_clean_error(cli: Cli, broken: Callable[..., Path]) -> None:
    def edit(data: Data) -> None:
        data["phases"]["P0"][1]["window"] = {"start": "30m", "end": "15m"}

    result = cli("playbook", "show", "--file", str(broken(edit)))
    assert result.code == 2
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert "phases.P0[1].window: end before start" in lines[0]


# --- suggest -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--outage", "complete"), "P0 (Critical)"),
        (("--breach",), "P0 (Critical)"),
        (("--security",), "P0 (Critical)"),
        (("--outage", "partial"), "P1 (High)"),
        (("--users", "60"), "P1 (High)"),
        (("--users", "50"), "P2 (Medium)"),
        (("--users", "30"), "P2 (Medium)"),
        ((), "P3 (Low)"),
        (("--outage", "none", "--users", "0"), "P3 (Low)"),
        (("--outage", "partial", "--breach"), "P0 (Critical)"),
    ],
)
def test_suggest(cli: Cli, args: tuple[str, ...], expected: str) -> None:
    result = cli("playbook", "suggest", *args)
    assert result.code == 0, result.err
    assert result.out.strip() == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [(("--outage", "total"), "outage"), (("--users", "150"), "users_affected_percent")],
)
def test_suggest_bad_input(cli: Cli, args: tuple[str, ...], field: str) -> None:
    result = cli("playbook", "suggest", *args)
    assert result.code == 2
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert field in lines[0]
