"""JSON columns are written and read with orjson (fast), falling back to json where orjson
would refuse a value or read it inexactly: every value must come back as json gives it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from warroom.db import json_text, json_value
from warroom.jobs.models import Job
from warroom.jobs.service import NewJob, schedule_many
from warroom.runtime import Runtime

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # any size: orjson takes 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(VALUES)
def test_a_value_comes_back_as_json_gives_it(value: Any) -> None:
    assert json_value(json_text(value)) == json.loads(json.dumps(value))


def test_wide_integers_and_old_nan_text_are_read_exactly() -> None:
    wide = 2**70
    assert json_value(json_text({"n": wide, "m": -(2**64)})) == {"n": wide, "m": -(2**64)}
    assert json_value(b'{"n": 18446744073709551616}') == {"n": 2**64}
    assert json_value('{"x": NaN}')["x"] != json_value('{"x": NaN}')["x"]  # written by json


def test_a_stored_payload_comes_back_exactly(runtime: Runtime) -> None:
    payload = {"wide": 2**70, "text": "Störung ✓", "nested": [{"a": 1.5}], "1": None}
    with runtime.transaction() as session:
        now = runtime.clock.now()
        job = NewJob(kind="probe", subject="s", key="k", due_at=now, payload=payload)
        schedule_many(session=session, jobs=[job], now=now)
    with runtime.read() as session:
        stored = session.scalar(select(Job.payload).where(Job.key == "k"))
    assert stored == payload
