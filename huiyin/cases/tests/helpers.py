"""Driving a case to a given state through the real API, for tests."""

from __future__ import annotations

from typing import Any

from huiyin.conftest import new_case

RESULT = {"cause": "原因", "course": "经过", "responsible_person": "某某", "conclusion": "结论",
          "countermeasures": "措施", "reply": "答复客户"}

# The path from a fresh complaint to each state: (user, action, body).
PATHS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "registered": [],
    "pending_approval": [("dispatcher", "dispatch", {"unit": "county_a"})],
    "dispatched": [("dispatcher", "dispatch", {"unit": "county_a"}), ("leader", "approve", {})],
    "returned": [("dispatcher", "dispatch", {"unit": "county_a"}), ("leader", "approve", {}),
                 ("handler_a", "return", {"reason": "不属本单位业务"})],
    "accepted": [("dispatcher", "dispatch", {"unit": "county_a"}), ("leader", "approve", {}),
                 ("handler_a", "acknowledge", {})],
}
PATHS["suspended"] = [*PATHS["accepted"], ("handler_a", "suspend", {"reason": "送检取证"})]
PATHS["result_submitted"] = [*PATHS["accepted"], ("handler_a", "submit_result", RESULT)]
PATHS["pending_callback"] = [*PATHS["result_submitted"], ("dispatcher", "review", {"accept": True})]
PATHS["closed"] = [*PATHS["pending_callback"], ("agent", "callback", {"satisfaction": "satisfied"})]
PATHS["invalid"] = [("dispatcher", "mark_invalid", {"reason": "投诉对象不明确"})]


# The demo persona who holds each built-in role an approval may await.
AWAITED = {"leader": "leader", "supervisor": "supervisor", "dispatcher": "dispatcher", "agent": "agent"}


def case_in(api: Any, state: str, **overrides: Any) -> str:
    """A new complaint driven to `state`; returns its number. An approval is given by whoever
    the policy has the case await; a satisfied callback that awaits a decision (the tobacco
    leader's 审查) is closed by that role."""
    number = new_case(api, **overrides)["number"]
    for user, action, body in PATHS[state]:
        if action == "approve":
            now = api("leader").get(f"/cases/{number}").json()
            if now["state"] != "pending_approval":
                continue  # the policy dispatches this kind without 批示
            user = AWAITED.get(now["awaiting"] or "leader", user)
        r = api(user).act(number, action, body)
        assert r.status_code == 200, (action, r.content)
    now = api("leader").get(f"/cases/{number}").json()
    if state == "closed" and now["state"] == "pending_callback" and now["awaiting"]:
        r = api(AWAITED[now["awaiting"]]).act(number, "close", {"comment": "审查:无需二次派单"})
        assert r.status_code == 200, r.content
        now = r.json()
    assert now["state"] == state
    return number


def custom_policy(change: Any, *, base: str = "tobacco", name: str = "custom") -> Any:
    """Load and activate a variant of preset `base`: `change(config)` edits its data in place.
    Returns the policy (a new version each time the data differs)."""
    import yaml

    from huiyin.policies.presets import preset_text
    from huiyin.policies.services import policy_load_preset

    config = yaml.safe_load(preset_text(base))
    change(config)
    config["name"] = name
    return policy_load_preset(name, text=yaml.safe_dump(config, allow_unicode=True, sort_keys=False), origin="file")


def due_of(body: dict[str, Any], timer: str) -> dict[str, Any]:
    """The case JSON's deadline of `timer`."""
    return next(d for d in body["deadlines"] if d["timer"] == timer)


def query_plan(qs: Any) -> str:
    """The database's plan for a queryset, its values bound as parameters (as the application
    runs it). PostgreSQL is told to avoid sequential scans, so that on a test's tiny tables the
    plan shows whether an index can serve the query at all."""
    from django.db import connection

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test's transaction ends it
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())
