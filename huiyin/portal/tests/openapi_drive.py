"""Every answer the issue-12 operations declare (the portal, the documents, the screen-pop, the
transfers), driven on purpose for `api/tests/test_openapi.py::test_every_operation_answers_as_documented`,
which checks each against the published document and that no declared answer goes unproduced."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import COMPLAINT, Api
from huiyin.portal import limits

NOBODY = "TS20000101-000001"
PUBLIC = {
    "kind": "complaint", "subject": "营业厅排队太久", "complainant": {"name": "李四", "phone": "13900139000"},
    "privacy_notice_version": settings.PRIVACY_NOTICE_VERSION,
}
ROOMY = {scope: (1000, 1000, 3600) for scope in ("submit", "track", "act", "challenge")}


def _post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None) -> Any:
    return client.post(path, raw if raw is not None else json.dumps(body), content_type="application/json",
                       headers=headers or {})


def drive(a: Any, api: Any, tmp_path: Any) -> None:
    """`a` is the test's `Answers` (check(response, method, path, status))."""
    with override_settings(PORTAL_LIMITS=ROOMY):
        _portal(a, api)
    _limits(a)
    _documents(a, api)
    _screen_pop(a, api)
    _transfers(a, api, tmp_path)


def _portal(a: Any, api: Any) -> None:
    c = Client()
    create = "/api/v1/portal/cases"
    receipt = a.check(_post(c, create, PUBLIC), "POST", create, 201).json()
    n, code = receipt["number"], {"X-Query-Code": receipt["query_code"]}
    a.check(_post(c, create, {**PUBLIC, "kind": "grievance"}), "POST", create, 422)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        a.check(_post(c, create, {**PUBLIC, "description": "长" * 2000}), "POST", create, 413)
    with override_settings(PORTAL_INTAKE_UNIT="no_such_unit"):  # the operator's setting names no unit
        r = a.check(_post(c, create, {**PUBLIC, "subject": "没有承办单位"}), "POST", create, 503)
        assert r.json()["error"]["code"] == "portal_unavailable"
    one = f"/api/v1/portal/cases/{n}"
    a.check(c.get(one, headers=code), "GET", one, 200)
    a.check(c.get(one, headers={"X-Query-Code": "nope"}), "GET", one, 404)
    track = "/api/v1/portal/track"
    a.check(c.get(track, headers=code), "GET", track, 200)
    a.check(c.get(track, headers={"X-Query-Code": "nope"}), "GET", track, 404)
    info, rate, reopen = f"{one}/information", f"{one}/satisfaction", f"{one}/reopen"
    a.check(_post(c, info, {"text": "补充"}, code), "POST", info, 200)
    a.check(_post(c, rate, {"satisfaction": "satisfied"}, code), "POST", rate, 409)  # still being handled
    a.check(_post(c, reopen, {"reason": "不满意"}, code), "POST", reopen, 409)  # still open
    for path, body in ((info, {"text": ""}), (rate, {"satisfaction": "unreachable"}), (reopen, {"reason": ""})):
        a.check(_post(c, path, body, code), "POST", path, 422)
        a.check(_post(c, path, body, {"X-Query-Code": "nope"}), "POST", path, 404)
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
            a.check(_post(c, path, {"text": "长" * 2000}, code), "POST", path, 413)
    # answered, rated, closed; then a request to reopen, and information on a closed case
    api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    api("leader").act(n, "approve")
    api("handler_a").act(n, "acknowledge")
    api("handler_a").act(n, "submit_result", {"reply": "已改进排队叫号"})
    api("dispatcher").act(n, "review", {"accept": True})
    a.check(_post(c, rate, {"satisfaction": "satisfied"}, code), "POST", rate, 200)
    api("leader").act(n, "close")
    a.check(_post(c, reopen, {"reason": "又排了一小时"}, code), "POST", reopen, 200)
    a.check(_post(c, info, {"text": "再补充"}, code), "POST", info, 409)
    challenges = "/api/v1/portal/challenges"
    a.check(_post(c, challenges, {}), "POST", challenges, 201)


def _limits(a: Any) -> None:
    """428 (a challenge asked) and 429 (over the limit) for every counted operation."""
    number = case_in_portal()
    headers = {"X-Query-Code": number[1]}
    one = f"/api/v1/portal/cases/{number[0]}"
    calls = [
        ("POST", "/api/v1/portal/cases", "submit", lambda c: _post(c, "/api/v1/portal/cases", PUBLIC)),
        ("GET", one, "track", lambda c: c.get(one, headers=headers)),
        ("GET", "/api/v1/portal/track", "track", lambda c: c.get("/api/v1/portal/track", headers=headers)),
        ("POST", f"{one}/satisfaction", "act",
         lambda c: _post(c, f"{one}/satisfaction", {"satisfaction": "satisfied"}, headers)),
        ("POST", f"{one}/reopen", "act", lambda c: _post(c, f"{one}/reopen", {"reason": "x"}, headers)),
        ("POST", f"{one}/information", "act", lambda c: _post(c, f"{one}/information", {"text": "x"}, headers)),
    ]
    for method, path, scope, call in calls:
        with override_settings(PORTAL_LIMITS={**ROOMY, scope: (0, 1000, 3600)}):
            a.check(call(Client(REMOTE_ADDR="10.0.0.1")), method, path, 428)
        with override_settings(PORTAL_LIMITS={**ROOMY, scope: (0, 0, 3600)}):
            a.check(call(Client(REMOTE_ADDR="10.0.0.2")), method, path, 429)
        limits_reset()
    with override_settings(PORTAL_LIMITS={**ROOMY, "challenge": (0, 0, 600)}):
        a.check(_post(Client(REMOTE_ADDR="10.0.0.3"), "/api/v1/portal/challenges", {}), "POST",
                "/api/v1/portal/challenges", 429)


def case_in_portal() -> tuple[str, str]:
    with override_settings(PORTAL_LIMITS=ROOMY):
        r = _post(Client(REMOTE_ADDR="10.0.0.9"), "/api/v1/portal/cases", PUBLIC)
    body = r.json()
    return body["number"], body["query_code"]


def limits_reset() -> None:
    from django.core.cache import caches

    caches["shared"].clear()
    assert limits.CHALLENGE_SECONDS > 0


def _documents(a: Any, api: Any) -> None:
    anon = Client()
    closed = case_in(api, "closed")
    fresh = case_in(api, "registered")
    for fmt in ("pdf", "html"):
        path = f"/api/v1/cases/{closed}/documents/reply.{fmt}"
        a.check(api("dispatcher").get(f"/cases/{closed}/documents/reply.{fmt}"), "GET", path, 200)
        a.check(anon.get(path), "GET", path, 401)
        a.check(api("dispatcher").get(f"/cases/{NOBODY}/documents/reply.{fmt}"), "GET",
                f"/api/v1/cases/{NOBODY}/documents/reply.{fmt}", 404)
        a.check(api("dispatcher").get(f"/cases/{fresh}/documents/reply.{fmt}"), "GET",
                f"/api/v1/cases/{fresh}/documents/reply.{fmt}", 409)
        a.check(api("auditor").get(f"/cases/{fresh}/documents/record_form.{fmt}"), "GET",
                f"/api/v1/cases/{fresh}/documents/record_form.{fmt}", 403)


def _screen_pop(a: Any, api: Any) -> None:
    path = "/api/v1/screen-pop"
    a.check(api("agent").get("/screen-pop", phone="13800138000"), "GET", path, 200)
    a.check(Client().get(path, {"phone": "13800138000"}), "GET", path, 401)
    a.check(api("agent").get("/screen-pop", phone="abc"), "GET", path, 422)


def _transfers(a: Any, api: Any, tmp_path: Any) -> None:
    from huiyin.channels.models import Upstream

    call_command("upstream", "add", "openapi", "--name", "省中心", "--url", "http://127.0.0.1:9/", "--secret", "s",
                 "--unit", "centre")
    platform = Api(Upstream.objects.get(code="openapi").user)
    path = "/api/v1/transfers"
    body = {**COMPLAINT, "upstream_ref": "OA-1", "upstream_due_at": "2027-12-31T17:00:00+08:00"}
    a.check(platform.post("/transfers", body), "POST", path, 201)
    a.check(platform.post("/transfers", body), "POST", path, 200)
    a.check(platform.post("/transfers", {**COMPLAINT}), "POST", path, 422)
    a.check(api("agent").post("/transfers", body), "POST", path, 403)
    a.check(_post(Client(), path, body), "POST", path, 401)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        a.check(platform.post("/transfers", {**body, "description": "长" * 2000}), "POST", path, 413)
