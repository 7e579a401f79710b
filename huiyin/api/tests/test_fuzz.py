"""Whatever JSON a client sends, the API answers with a clear 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiyin.cases.models import Case
from huiyin.conftest import COMPLAINT

pytestmark = pytest.mark.django_db

scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
fields = st.sampled_from(sorted({*COMPLAINT, "amount", "people_count", "flags", "category", "received_at",
                                 "upstream_due_at", "unit", "reason", "satisfaction", "accept", "into", "to",
                                 "expected_version", "co_units", "comment"}))
bodies = st.dictionaries(fields, json_values, max_size=6) | json_values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_bodies_never_break_intake(api, body) -> None:
    r = api("agent").post("/cases", raw=json.dumps(body))
    assert r.status_code in (201, 422), r.content
    assert "error" in r.json() or r.status_code == 201


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(["dispatch", "callback", "request_extension", "merge", "review", "classify",
                               "compensate", "suspend", "nonsense"]),
       body=bodies)
def test_random_action_bodies_never_break_the_workflow(api, action, body) -> None:
    n = Case.objects.order_by("-id").values_list("number", flat=True).first()
    if n is None:
        n = api("agent").post("/cases", COMPLAINT).json()["number"]
    r = api("dispatcher").act(n, action, body)
    assert r.status_code < 500, r.content
    assert r.status_code == 200 or "error" in r.json()


def test_a_body_over_the_limit_is_413(api) -> None:
    r = api("agent").post("/cases", {**COMPLAINT, "description": "长" * 1_500_000})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
