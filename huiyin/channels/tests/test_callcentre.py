"""The call centre's screen-pop: who is calling, their open and recent cases, the urge and repeat
hints, and intake pre-filled with the call's recording reference, which the new case keeps."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case

pytestmark = pytest.mark.django_db


def test_the_pop_shows_the_callers_open_and_recent_cases_with_hints(api) -> None:
    open_number = case_in(api, "dispatched")
    closed_number = case_in(api, "closed")
    new_case(api, complainant={"name": "别人", "phone": "13911112222"})
    r = api("agent").get("/screen-pop", phone="+86 138-0013-8000", recording="REC-20260213-0042")
    assert r.status_code == 200, r.content
    pop = r.json()
    assert pop["phone"] == "13800138000" and pop["valid_phone"] and pop["name"] == "张三"
    assert [c["number"] for c in pop["open"]] == [open_number]
    assert pop["open"][0]["unit"] == "县局A" and pop["open"][0]["waiting_for"] == "acknowledge"
    assert [c["number"] for c in pop["recent"]] == [closed_number]
    assert pop["hints"] == {"urge": open_number, "repeat": closed_number, "repeat_days": 30}
    assert pop["intake_url"] == "/intake/?phone=13800138000&name=%E5%BC%A0%E4%B8%89&recording=REC-20260213-0042"


def test_a_handler_sees_only_his_units_cases_and_no_name_of_a_reporter(api) -> None:
    mine = case_in(api, "dispatched")
    new_case(api, kind="report", subject="举报")
    pop = api("handler_b").get("/screen-pop", phone="13800138000").json()
    assert pop["open"] == [] and pop["name"] == ""
    pop = api("handler_a").get("/screen-pop", phone="13800138000").json()
    assert [c["number"] for c in pop["open"]] == [mine] and pop["hints"]["urge"] is None  # he may not urge


def test_a_wrong_number_is_a_422_and_no_token_a_401(api) -> None:
    assert api("agent").get("/screen-pop", phone="abc").status_code == 422
    assert api("agent").get("/screen-pop").status_code == 422
    assert api("agent").get("/screen-pop", phone="1" * 40).status_code == 422
    assert Client().get("/api/v1/screen-pop", {"phone": "13800138000"}).status_code == 401


def test_intake_from_the_pop_keeps_the_recording_on_the_case(api, org) -> None:
    c = Client()
    c.force_login(org.agent)
    page = c.get("/callcentre/pop/", {"phone": "13800138000", "recording": "REC-7"})
    assert page.status_code == 200
    intake_url = re.search(r'href="(/intake/\?[^"]+)" data-intake', page.content.decode()).group(1)
    form = c.get(intake_url.replace("&amp;", "&")).content.decode()
    assert 'name="recording_ref" value="REC-7"' in form
    r = c.post("/intake/", {"kind": "complaint", "channel": "phone", "subject": "来电反映", "complainant_phone":
                            "13800138000", "complainant_name": "张三", "recording_ref": "REC-7"})
    assert r.status_code == 302, r.content[:500]
    assert Case.objects.get(subject="来电反映").recording_ref == "REC-7"
    # the API takes it too
    n = new_case(api, recording_ref="REC-8")["number"]
    assert Case.objects.get(number=n).recording_ref == "REC-8"
    assert c.get("/callcentre/pop/", {"phone": "x"}).status_code == 422


def test_a_case_closed_long_ago_is_no_repeat(api) -> None:
    n = case_in(api, "closed")
    Case.objects.filter(number=n).update(closed_at=timezone.now() - timedelta(days=40))
    pop = api("agent").get("/screen-pop", phone="13800138000").json()
    assert pop["hints"]["repeat"] is None and [c["number"] for c in pop["recent"]] == [n]


def test_the_pop_reads_the_same_few_queries_however_many_cases_the_caller_has(api, monkeypatch) -> None:
    """No query per case (no N+1, no deferred column read later): one read finds the open and
    recent cases, whatever their number."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huiyin.notify.models import TransportConfig
    from huiyin.policies import services as policy_services

    # the process's few-second caches (the active policy, the transports) must not expire between
    # the warm-up and the counted request on a slow machine: that read is no query per case
    monkeypatch.setattr(policy_services, "ACTIVE_CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(policy_services, "_active", [])  # read again, then kept for the test
    monkeypatch.setattr(TransportConfig, "CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(TransportConfig, "_cache", {})

    def pop_queries() -> int:
        client = api("agent")
        client.get("/screen-pop", phone="13800138000")  # the token's first use, caches
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/screen-pop", phone="13800138000").status_code == 200
        return len(ctx.captured_queries)

    case_in(api, "dispatched")
    one = pop_queries()
    for state in ("dispatched", "closed", "registered", "closed"):
        case_in(api, state)
    assert pop_queries() == one


def test_the_pop_never_shows_a_case_the_user_may_not_see(api) -> None:
    """The identity rule alone scopes the pop: it is narrower than what each user may see."""
    from huiyin.cases.access import cases_for
    from huiyin.org.models import User

    case_in(api, "dispatched")
    case_in(api, "closed")
    new_case(api, kind="report", subject="举报")
    for user in User.objects.exclude(username="admin"):
        pop = api(user.username).get("/screen-pop", phone="13800138000")
        if pop.status_code == 403:
            continue
        shown = {c["number"] for c in pop.json()["open"] + pop.json()["recent"]}
        assert shown <= set(cases_for(user).values_list("number", flat=True)), user.username
