"""The default playbook encodes every line of the Emergency Response Procedures.

These tests parse the procedures' Markdown itself (not a copy of its lines kept here), so
a line added to the procedures and forgotten in ``default.yaml`` fails a test.

Comparisons are case-insensitive and ignore surrounding whitespace. The only tolerances:

* Notifications bullets of the security track ("Internal stakeholders") may be prefixed
  with "Notify " in the task title ("Notify internal stakeholders").
* A bash comment of the form "Example: X" in a phase (P0 Execute Recovery Plan) only needs
  X to appear inside a task title of that phase.
* The runbook location labelled "Backup" is of kind ``printed`` (its text says "Printed
  copies"); backticks around locations are Markdown, not part of the location.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from warroom.playbook.checks import check_playbook
from warroom.playbook.loader import load_playbook
from warroom.playbook.schema import Phase, Playbook

ROOT = Path(__file__).resolve().parents[1]
SPEC = Path(
    os.environ.get("WARROOM_SPEC", ROOT / "docs" / "spec" / "emergency-response-procedures.md")
)


# --- a small Markdown reader for the procedures ---------------------------------------------


@dataclass
class Block:
    """A fenced code block."""

    lang: str
    lines: list[str] = field(default_factory=list)

    @property
    def comments(self) -> list[str]:
        return [ln.lstrip("#").strip() for ln in self.lines if ln.startswith("#")]

    @property
    def commands(self) -> list[str]:
        return [ln for ln in self.lines if ln and not ln.startswith("#")]


@dataclass
class Item:
    """A numbered list item, with the bullets and code blocks under it."""

    title: str
    bullets: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Section:
    level: int
    title: str
    path: tuple[str, ...]
    bullets: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
NUMBERED = re.compile(r"^(\s*)\d+\.\s+(.*)$")
BULLET = re.compile(r"^(\s*)-\s+(.*)$")


def unbold(text: str) -> str:
    return text.replace("**", "").strip()


def parse_markdown(text: str) -> list[Section]:
    sections: list[Section] = []
    titles: dict[int, str] = {}
    section = Section(0, "", ())
    item: Item | None = None
    block: Block | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        if block is not None:
            if stripped.startswith("```"):
                block = None
            else:
                block.lines.append(stripped)
            continue
        if stripped.startswith("```"):
            block = Block(lang=stripped[3:].strip())
            indented = raw.startswith(" ")
            (item.blocks if item is not None and indented else section.blocks).append(block)
            continue
        if m := HEADING.match(raw):
            level, title = len(m.group(1)), m.group(2).strip()
            titles = {k: v for k, v in titles.items() if k < level}
            titles[level] = title
            path = tuple(titles[k] for k in sorted(titles) if k >= 2)
            section = Section(level, title, path)
            sections.append(section)
            item = None
            continue
        if m := NUMBERED.match(raw):
            item = Item(unbold(m.group(2)))
            section.items.append(item)
            continue
        if m := BULLET.match(raw):
            if m.group(1) and item is not None:
                item.bullets.append(unbold(m.group(2)))
            else:
                item = None
                section.bullets.append(m.group(2).strip())
    return sections


@functools.cache
def spec_sections() -> tuple[Section, ...]:
    if not SPEC.is_file():
        pytest.fail(
            f"the procedures are not at {SPEC}; set WARROOM_SPEC to the path of "
            "emergency-response-procedures.md"
        )
    return tuple(parse_markdown(SPEC.read_text("utf-8")))


def sections_under(*path: str) -> list[Section]:
    """The sections whose heading path starts with ``path``, below it."""
    found = [s for s in spec_sections() if s.path[: len(path)] == path and len(s.path) > len(path)]
    assert found, f"the procedures have no section under {' > '.join(path)}"
    return found


def section(*path: str) -> Section:
    found = [s for s in spec_sections() if s.path == path]
    assert len(found) == 1, f"the procedures have no section {' > '.join(path)}"
    return found[0]


UNITS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}
OPEN_WINDOW = re.compile(r"^(\d+)\+\s*([a-z]+)$")
CLOSED_WINDOW = re.compile(r"^(\d+)\s*([a-z]+)?\s*-\s*(\d+)\s*([a-z]+)$")


def unit(word: str) -> int:
    return UNITS[word.removesuffix("s")]


def parse_window(heading: str) -> tuple[timedelta, timedelta | None]:
    """``Assessment Phase (15-30 minutes)`` → (15 min, 30 min); ``(30+ minutes)`` → open."""
    inside = re.findall(r"\(([^)]*)\)", heading)[-1].strip().lower()
    if m := OPEN_WINDOW.match(inside):
        return timedelta(seconds=int(m.group(1)) * unit(m.group(2))), None
    m = CLOSED_WINDOW.match(inside)
    assert m, f"cannot read a time window in {heading!r}"
    start_unit = unit(m.group(2) or m.group(4))
    return (
        timedelta(seconds=int(m.group(1)) * start_unit),
        timedelta(seconds=int(m.group(3)) * unit(m.group(4))),
    )


def strip_window(heading: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", heading).strip()


@dataclass
class SpecPhase:
    """A timed phase of the procedures with its checklist, comments and commands."""

    heading: str
    window: tuple[timedelta, timedelta | None]
    checklist: list[tuple[str, str]]  # (numbered item title, bullet)
    comments: list[tuple[str, str]]  # (numbered item title, bash comment)
    commands: list[str]


def phase_from_items(heading: str, items: list[Item]) -> SpecPhase:
    return SpecPhase(
        heading=heading,
        window=parse_window(heading),
        checklist=[(i.title, b) for i in items for b in i.bullets],
        comments=[(i.title, c) for i in items for b in i.blocks for c in b.comments],
        commands=[c for i in items for b in i.blocks for c in b.commands],
    )


def spec_phases(track: str) -> list[SpecPhase]:
    """The phases of one track of the procedures: ``P0``, ``P1`` or ``security``."""
    if track == "P0":
        subs = sections_under("Response Procedures", "P0 Critical Incidents")
        return [phase_from_items(s.title, s.items) for s in subs]
    if track == "P1":
        (timeline,) = sections_under("Response Procedures", "P1 High Priority Incidents")
        return [phase_from_items(i.title, [i]) for i in timeline.items]
    subs = sections_under("Response Procedures", "Security Incident Response")
    return [phase_from_items(s.title, s.items) for s in subs]


TRACKS = ["P0", "P1", "security"]


def norm(text: str) -> str:
    return " ".join(text.replace("`", "").split()).casefold()


@functools.cache
def playbook() -> Playbook:
    return load_playbook()


def track_pairs(track: str) -> list[tuple[SpecPhase, Phase]]:
    spec = spec_phases(track)
    ours = playbook().phases[track]
    assert len(spec) == len(ours), f"{track}: {len(spec)} phases in the procedures"
    return list(zip(spec, ours, strict=True))


def title_matches(section_title: str, item: str, title: str) -> bool:
    if norm(title) == norm(item):
        return True
    # Tolerance: the security Notifications bullets name whom to notify.
    return section_title == "Notifications" and norm(title) == "notify " + norm(item)


# --- the procedures are read correctly ------------------------------------------------------


def test_the_reader_finds_the_procedures() -> None:
    assert [len(spec_phases(t)) for t in TRACKS] == [3, 3, 3]
    assert [sum(len(p.checklist) for p in spec_phases(t)) for t in TRACKS] == [18, 9, 12]
    assert [sum(len(p.commands) for p in spec_phases(t)) for t in TRACKS] == [11, 0, 10]
    p0 = spec_phases("P0")
    assert p0[0].checklist[0] == ("Incident Detection", "Automated monitoring alerts")
    assert ("Initial Actions", "Page on-call engineer") in p0[0].comments
    assert "kubectl get nodes" in p0[1].commands
    assert p0[2].window == (timedelta(minutes=30), None)
    assert spec_phases("security")[1].window == (timedelta(minutes=30), timedelta(hours=24))


# --- phases, checklists and commands ---------------------------------------------------------


@pytest.mark.parametrize("track", TRACKS)
def test_phase_windows(track: str) -> None:
    for spec, ours in track_pairs(track):
        assert (ours.window.start, ours.window.end) == spec.window, spec.heading


def test_p1_ends_within_its_response_timeline() -> None:
    (timeline,) = sections_under("Response Procedures", "P1 High Priority Incidents")
    m = re.search(r"(\d+)\s+(hour|minute)", timeline.title)
    assert m, timeline.title
    total = timedelta(seconds=int(m.group(1)) * unit(m.group(2)))
    assert playbook().phases["P1"][-1].window.end == total


@pytest.mark.parametrize("track", TRACKS)
def test_phase_names(track: str) -> None:
    for spec, ours in track_pairs(track):
        name = strip_window(spec.heading).removesuffix(" Phase")
        assert norm(name) in norm(ours.name), (spec.heading, ours.name)


@pytest.mark.parametrize("track", TRACKS)
def test_every_checklist_item_is_a_task_of_its_phase(track: str) -> None:
    missing = []
    for spec, ours in track_pairs(track):
        for item_title, bullet in spec.checklist:
            tasks = [t for t in ours.tasks if title_matches(item_title, bullet, t.title)]
            if not tasks:
                missing.append(f"{ours.key}: {bullet}")
            elif track != "P1":  # P1's numbered items are its phases, not sections
                assert norm(tasks[0].section) == norm(item_title), (bullet, tasks[0].section)
    assert not missing, "checklist items missing from the default playbook:\n" + "\n".join(missing)


@pytest.mark.parametrize("track", TRACKS)
def test_every_bash_comment_of_a_phase_is_a_task_of_it(track: str) -> None:
    missing = []
    for spec, ours in track_pairs(track):
        titles = [norm(t.title) for t in ours.tasks]
        for item_title, comment in spec.comments:
            if comment.startswith("Example:"):
                # Tolerance: an example only needs to be named in a task title.
                example = norm(comment.removeprefix("Example:"))
                found = any(example in t for t in titles)
            else:
                found = any(
                    title_matches(item_title, comment, t.title)
                    and norm(t.section) == norm(item_title)
                    for t in ours.tasks
                )
            if not found:
                missing.append(f"{ours.key} ({item_title}): {comment}")
    assert not missing, "steps missing from the default playbook:\n" + "\n".join(missing)


def all_spec_commands() -> list[str]:
    return [
        command
        for s in spec_sections()
        for block in [*s.blocks, *(b for i in s.items for b in i.blocks)]
        if block.lang == "bash"
        for command in block.commands
    ]


def test_every_command_of_the_procedures_is_a_runbook_step() -> None:
    commands = all_spec_commands()
    assert len(commands) >= 27, "the reader lost commands"
    runs = {norm(step.run) for r in playbook().runbooks for step in r.steps}
    missing = [c for c in commands if norm(c) not in runs]
    assert not missing, "commands missing from the runbooks:\n" + "\n".join(missing)


@pytest.mark.parametrize("track", TRACKS)
def test_every_command_of_a_phase_is_reachable_from_its_tasks(track: str) -> None:
    """A responder working a phase finds its commands through the tasks' runbooks."""
    runbooks = {r.key: r for r in playbook().runbooks}
    missing = []
    for spec, ours in track_pairs(track):
        runs = {
            norm(step.run)
            for t in ours.tasks
            if t.runbook is not None
            for step in runbooks[t.runbook].steps
        }
        missing += [f"{ours.key}: {c}" for c in spec.commands if norm(c) not in runs]
    assert not missing, "commands no task of their phase links to:\n" + "\n".join(missing)


def test_post_incident_stages() -> None:
    stages = sections_under("Post-Incident Procedures")
    ours = playbook().post_incident
    assert len(ours) == len(stages) == 3
    expected_windows = [
        (timedelta(0), timedelta(hours=24)),
        (timedelta(days=1), timedelta(days=7)),
        (timedelta(weeks=1), timedelta(weeks=4)),
    ]
    for spec, stage, window in zip(stages, ours, expected_windows, strict=True):
        assert parse_window(spec.title) == window
        assert (stage.window.start, stage.window.end) == window, stage.key
        assert norm(stage.name) == norm(strip_window(spec.title))
        assert [norm(t.title) for t in stage.tasks] == [norm(i.title) for i in spec.items]


# --- classification, team, templates, contacts, resources ----------------------------------


def test_four_severities_with_their_criteria() -> None:
    bullets = section("Emergency Classification", "Severity Levels").bullets
    assert len(bullets) == 4
    severities = playbook().severities
    assert [s.key for s in severities] == ["P0", "P1", "P2", "P3"]
    for bullet, severity in zip(bullets, severities, strict=True):
        m = re.match(r"\*\*(\w+) \((\w+)\):\*\*\s*(.*)$", bullet)
        assert m, bullet
        assert severity.key == m.group(1)
        assert norm(severity.name) == norm(m.group(2))
        assert [norm(c) for c in severity.criteria] == [norm(c) for c in m.group(3).split(", ")]


def test_core_team() -> None:
    bullets = section("Emergency Response Team", "Core Team").bullets
    core = [r for r in playbook().roles if r.team == "core"]
    assert len(core) == len(bullets) == 4
    all_types = sorted(t.key for t in playbook().incident_types)
    for bullet, role in zip(bullets, core, strict=True):
        m = re.match(r"\*\*(.+?):\*\*\s*(.+?)(?:\s*\((.*)\))?$", bullet)
        assert m, bullet
        name, held_by, qualifier = m.groups()
        assert norm(role.name) == norm(name)
        assert norm(role.held_by) == norm(held_by)
        if qualifier:
            assert norm(qualifier) == "for security incidents"
            assert role.required_for == ["security"]
        else:
            assert sorted(role.required_for) == all_types
    assert [r.name for r in playbook().required_roles("security")] == [
        "Incident Commander",
        "Technical Lead",
        "Communications Lead",
        "Security Lead",
    ]
    assert "Security Lead" not in [r.name for r in playbook().required_roles("operational")]


def test_extended_team() -> None:
    (extended,) = [
        s for s in sections_under("Emergency Response Team") if s.title.startswith("Extended")
    ]
    assert "(as needed)" in extended.title
    names = [unbold(b) for b in extended.bullets]
    roles = [r for r in playbook().roles if r.team == "extended"]
    assert len(names) == 4
    assert [norm(r.name) for r in roles] == [norm(n) for n in names]
    assert all(r.required_for == [] for r in roles), "extended roles are as needed"


def test_the_commander_is_the_incident_commander() -> None:
    role = playbook().role(playbook().commander_role)
    assert role is not None
    assert role.name == "Incident Commander"


# What each [placeholder] of the procedures' templates is called in the playbook's templates.
# Rendering a template with each variable set to its placeholder must give back the
# procedures' text exactly.
TEMPLATE_VARIABLES: dict[str, dict[str, str]] = {
    "Internal Alert": {
        "severity": "P0/P1/P2/P3",
        "time": "[UTC timestamp]",
        "summary": "[Brief description]",
        "impact": "[Affected services/users]",
        "incident_commander": "[Name]",
        "war_room": "[Slack channel/meeting link]",
        "status_page": "[Link to status page]",
        "next_update": "[Time]",
    },
    "Customer Communication": {
        "description": "[brief description of issue]",
        "affected_services": "[affected services]",
        "impact": "[Description of user impact]",
        "status": "[Current status and actions being taken]",
        "eta": "[Estimated resolution time]",
        "update_frequency": "[frequency]",
        "status_page": "[status page link]",
    },
    "Post-Incident Communication": {
        "date": "[Date]",
        "started_at": "[time]",
        "root_cause": "[Brief explanation]",
        "resolution": "[What was done to fix it]",
        "prevention": "[Steps taken to prevent recurrence]",
        "postmortem_url": "[Link to detailed analysis]",
    },
}


def spec_templates() -> dict[str, list[str]]:
    found = {}
    for s in sections_under("Communication Templates"):
        (block,) = s.blocks
        found[s.title.removesuffix(" Template")] = block.lines
    return found


def test_three_templates_with_every_placeholder() -> None:
    templates = {t.name: t for t in playbook().templates}
    spec = spec_templates()
    assert sorted(spec) == sorted(templates) == sorted(TEMPLATE_VARIABLES)
    env = SandboxedEnvironment(undefined=StrictUndefined)
    for name, lines in spec.items():
        variables = TEMPLATE_VARIABLES[name]
        placeholders = set(re.findall(r"\[[^\]]+\]", "\n".join(lines)))
        assert placeholders == {v for v in variables.values() if v.startswith("[")}, name
        template = templates[name]
        if lines[0].startswith("Subject: "):
            assert template.subject is not None, name
            subject = env.from_string(template.subject).render(variables)
            assert subject == lines[0].removeprefix("Subject: "), name
            lines = lines[1:]
        else:
            assert template.subject is None, name
        body = env.from_string(template.body).render(variables)
        assert [ln.rstrip() for ln in body.strip().splitlines()] == [
            ln.rstrip() for ln in "\n".join(lines).strip().splitlines()
        ], name


def test_template_audiences() -> None:
    audiences = {t.key: t.audience for t in playbook().templates}
    assert audiences == {
        "internal-alert": "internal",
        "customer-notification": "customers",
        "post-incident": "customers",
    }


def test_the_eight_contacts() -> None:
    groups = {"Internal Team": "internal", "External Contacts": "external"}
    expected = []
    for s in sections_under("Emergency Contacts"):
        for bullet in s.bullets:
            m = re.match(r"\*\*(.+?):\*\*\s*(.+)$", bullet)
            assert m, bullet
            expected.append((m.group(1), groups[s.title], m.group(2).strip()))
    contacts = playbook().contacts
    assert len(expected) == len(contacts) == 8
    for (name, group, value), contact in zip(expected, contacts, strict=True):
        assert norm(contact.name) == norm(name)
        assert contact.group == group, name
        values = [contact.phone, contact.email, contact.url, contact.note]
        assert norm(value) in [norm(v) for v in values if v], name


def test_quick_reference_commands_are_runbooks() -> None:
    (block,) = section("Emergency Resources", "Quick Reference Commands").blocks
    pairs: list[tuple[str, str]] = []
    name = ""
    for line in block.lines:
        if line.startswith("#"):
            name = line.lstrip("#").strip()
        elif line:
            pairs.append((name, line))
    assert len(pairs) == 6
    runbooks = {norm(r.name): r for r in playbook().runbooks}
    for name, command in pairs:
        runbook = runbooks.get(norm(name))
        assert runbook is not None, f"no runbook named {name!r}"
        assert [norm(s.run) for s in runbook.steps] == [norm(command)], name
        assert all(s.kind == "command" for s in runbook.steps)


LOCATION_KINDS = {"Digital": "digital", "Backup": "printed", "Cloud": "cloud"}


def test_three_runbook_locations() -> None:
    bullets = section("Emergency Resources", "Emergency Runbooks Location").bullets
    expected = []
    for bullet in bullets:
        m = re.match(r"\*\*(.+?):\*\*\s*(.+)$", bullet)
        assert m, bullet
        expected.append((LOCATION_KINDS[m.group(1)], norm(m.group(2))))
    ours = [(loc.kind, norm(loc.location)) for loc in playbook().runbook_locations]
    assert len(expected) == 3
    assert ours == expected


# --- the rest of the playbook hangs together ------------------------------------------------


def test_the_default_playbook_passes_its_own_checks() -> None:
    assert check_playbook(playbook()) == []


def test_plans() -> None:
    plans = playbook().plans
    assert plans["operational"] == {"P0": ["P0"], "P1": ["P1"], "P2": ["P2"], "P3": ["P3"]}
    assert plans["security"]["P0"] == ["P0", "security"]
    for severity in ("P1", "P2", "P3"):
        assert "security" in plans["security"][severity]


def test_p2_and_p3_have_sensible_defaults() -> None:
    """Not timed by the procedures: every window closes, and a lower severity is looser."""

    def total(key: str) -> timedelta:
        phases = playbook().phases[key]
        assert phases, key
        assert all(p.tasks for p in phases), key
        ends = [p.window.end for p in phases]
        assert all(end is not None for end in ends), key
        return max(e for e in ends if e is not None)

    assert total("P1") <= total("P2") <= total("P3")
    for key in ("P2", "P3"):
        phases = playbook().phases[key]
        for before, after in itertools.pairwise(phases):
            assert before.window.end is not None
            assert after.window.start >= before.window.start
