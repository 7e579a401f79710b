"""The API is fully described: /api/v1/openapi.json declares every answer of every operation,
errors included, and each workflow action as its own operation with its own body; real answers
match it, strictly (no key, type or status it does not describe).

Every API answer of the whole suite is also checked by the suite's plugin (huiyin/tests/plugin.py);
here every operation is driven on purpose through each status it declares.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from huiyin.api.openapi import ACTION_EXAMPLES, ACTION_SUMMARIES
from huiyin.api.tests.schema_check import document
from huiyin.cases import inputs
from huiyin.cases.tests.helpers import case_in
from huiyin.cases.workflow import ACTIONS
from huiyin.conftest import COMPLAINT, new_case
from huiyin.notify.services import enqueue
from huiyin.org.models import ApiToken
from huiyin.org.tokens import token_issue

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NOBODY = "TS20000101-000001"  # a case number that does not exist
ACTIONS_PATH = "/api/v1/cases/{number}/actions/"
# Who holds each role over a case dispatched to county_a (the demo organisation).
PERSONA = {"agent": "agent", "dispatcher": "dispatcher", "leader": "leader", "supervisor": "supervisor",
           "handler": "handler_a", "first_responsible": "handler_a"}


class Answers:
    """Real answers, each checked against the document; remembers the (operation, status) seen."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, r: Any, method: str, path: str, status: int) -> Any:
        assert r.status_code == status, (method, path, r.status_code, r.content[:300])
        body = None if r.streaming else r.content
        assert document().problems(method, path, r.status_code, r.get("Content-Type", ""), body) == []
        found = document().operation(method, path)
        assert found is not None, (method, path)
        self.seen.add((method, found[0], status))
        return r


def declared(*, actions: bool) -> set[tuple[str, str, int]]:
    return {
        (method.upper(), path, int(status))
        for path, item in document().doc["paths"].items() if path.startswith(ACTIONS_PATH) == actions
        for method, operation in item.items() for status in operation["responses"]
    }


def post_json(client: Client, path: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers or {})


def test_every_operation_answers_as_documented(api, org, tmp_path) -> None:
    a = Answers()
    anon = Client()
    big = "长" * 1_000_000  # ~3 MB: over the API's body limit

    # a token
    token = "/api/v1/auth/token"
    a.check(post_json(anon, token, {"username": "agent", "password": "pw-for-tests"}), "POST", token, 200)
    a.check(post_json(anon, token, {"username": "agent", "password": "wrong"}), "POST", token, 401)
    a.check(post_json(anon, token, {"username": "agent"}), "POST", token, 422)
    a.check(post_json(anon, token, {"username": big, "password": "x"}), "POST", token, 413)

    # registering a case
    cases = "/api/v1/cases"
    key = {"Idempotency-Key": "call-0001"}
    r = a.check(api("agent").post("/cases", COMPLAINT, headers=key), "POST", cases, 201)
    n = r.json()["number"]
    a.check(api("agent").post("/cases", COMPLAINT, headers=key), "POST", cases, 200)
    a.check(api("agent").post("/cases", {**COMPLAINT, "subject": "另一件事"}, headers=key), "POST", cases, 409)
    a.check(api("handler_a").post("/cases", COMPLAINT), "POST", cases, 403)
    a.check(post_json(anon, cases, COMPLAINT), "POST", cases, 401)
    a.check(api("agent").post("/cases", {**COMPLAINT, "kind": "grievance"}), "POST", cases, 422)
    a.check(api("agent").post("/cases", {**COMPLAINT, "description": big}), "POST", cases, 413)

    # the list
    a.check(api("leader").get("/cases", limit=5), "GET", cases, 200)
    a.check(anon.get(cases), "GET", cases, 401)
    a.check(api("leader").get("/cases", limit=0), "GET", cases, 422)

    # an action (the other actions' errors: test_every_action_answers_its_errors_as_documented)
    path = f"/api/v1/cases/{n}/actions/dispatch"
    a.check(api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_b"]}), "POST", path, 200)

    # the case, its timeline
    for suffix in ("", "/timeline"):
        path = f"/api/v1/cases/{n}{suffix}"
        r = a.check(api("leader").get(f"/cases/{n}{suffix}"), "GET", path, 200)
        a.check(anon.get(path), "GET", path, 401)
        a.check(api("handler_b").get(f"/cases/{NOBODY}{suffix}"), "GET", f"/api/v1/cases/{NOBODY}{suffix}", 404)
    assert r.json()["events"] and r.json()["deliveries"], "a timeline with events and deliveries was checked"

    # attachments
    with override_settings(MEDIA_ROOT=tmp_path, ATTACHMENT_MAX_BYTES=1000):
        files = f"/api/v1/cases/{n}/attachments"

        def upload(user: str | None, content: bytes, number: str = n) -> Any:
            headers = api(user).headers if user else {}
            return Client().post(f"/api/v1/cases/{number}/attachments",
                                 {"file": SimpleUploadedFile("p.png", content)}, headers=headers)

        attachment = a.check(upload("agent", PNG), "POST", files, 201).json()
        a.check(upload(None, PNG), "POST", files, 401)
        a.check(upload("auditor", PNG), "POST", files, 403)
        a.check(upload("agent", PNG, NOBODY), "POST", f"/api/v1/cases/{NOBODY}/attachments", 404)
        a.check(upload("agent", b""), "POST", files, 422)
        a.check(upload("agent", PNG + b"\x00" * (1024 * 1024 + 1000)), "POST", files, 413)
        a.check(api("agent").get(f"/cases/{n}/attachments"), "GET", files, 200)
        a.check(anon.get(files), "GET", files, 401)
        a.check(api("agent").get(f"/cases/{NOBODY}/attachments"), "GET", f"/api/v1/cases/{NOBODY}/attachments", 404)
        one = f"{files}/{attachment['token']}"
        r = a.check(api("agent").get(f"/cases/{n}/attachments/{attachment['token']}"), "GET", one, 200)
        assert r["Content-Type"] == "image/png" and b"".join(r.streaming_content) == PNG
        a.check(anon.get(one), "GET", one, 401)
        a.check(api("agent").get(f"/cases/{n}/attachments/nope"), "GET", f"{files}/nope", 404)

    # the categories
    a.check(api("agent").get("/categories"), "GET", "/api/v1/categories", 200)
    a.check(anon.get("/api/v1/categories"), "GET", "/api/v1/categories", 401)

    # the inbox
    enqueue("case.dispatched", case_number=n, context={}, dedupe="openapi", recipients=[org.leader.pk])
    inbox = "/api/v1/notifications"
    item = a.check(api("leader").get("/notifications"), "GET", inbox, 200).json()["items"][0]
    a.check(anon.get(inbox), "GET", inbox, 401)
    a.check(api("leader").get("/notifications", limit="many"), "GET", inbox, 422)
    read = f"{inbox}/{item['id']}/read"
    a.check(api("leader").post(f"/notifications/{item['id']}/read"), "POST", read, 200)
    a.check(post_json(anon, read, {}), "POST", read, 401)
    a.check(api("agent").post(f"/notifications/{item['id']}/read"), "POST", read, 404)
    a.check(api("leader").post("/notifications/first/read"), "POST", f"{inbox}/first/read", 422)

    # the calendar
    deadline, day = "/api/v1/calendar/deadline", "/api/v1/calendar/day"
    a.check(api("agent").get("/calendar/deadline", start="2026-02-13T09:00:00+08:00", amount=2, unit="working_days"),
            "GET", deadline, 200)
    a.check(anon.get(deadline), "GET", deadline, 401)
    a.check(api("agent").get("/calendar/deadline", start="yesterday", amount=1, unit="working_days"),
            "GET", deadline, 422)
    a.check(api("agent").get("/calendar/day", date="2026-02-14"), "GET", day, 200)
    a.check(anon.get(day), "GET", day, 401)
    a.check(api("agent").get("/calendar/day", date="2026-13-01"), "GET", day, 422)

    # tokens (issue 11): revoke one's own, list and revoke as an administrator, a lockout
    mine, listed = "/api/v1/auth/token", "/api/v1/auth/tokens"
    bearer = {"Authorization": f"Bearer {token_issue(org.handler_b)}"}
    a.check(api("admin").get("/auth/tokens", user="handler_b"), "GET", listed, 200)
    a.check(anon.get(listed), "GET", listed, 401)
    a.check(api("admin").get("/auth/tokens", limit=0), "GET", listed, 422)
    row = ApiToken.objects.filter(user=org.handler_b).order_by("-id").first()
    one = f"{listed}/{row.pk}"
    a.check(api("admin").client.delete(one, headers=api("admin").headers), "DELETE", one, 200)
    a.check(anon.delete(one), "DELETE", one, 401)
    a.check(api("agent").client.delete(one, headers=api("agent").headers), "DELETE", one, 404)
    a.check(api("agent").client.delete(f"{listed}/{2**70}", headers=api("agent").headers), "DELETE",
            f"{listed}/{2**70}", 422)
    bearer = {"Authorization": f"Bearer {token_issue(org.handler_b)}"}
    a.check(anon.delete(mine, headers=bearer), "DELETE", mine, 200)
    a.check(anon.delete(mine, headers=bearer), "DELETE", mine, 401)
    with override_settings(AXES_FAILURE_LIMIT=1):
        post_json(Client(REMOTE_ADDR="10.3.3.3"), token, {"username": "supervisor", "password": "wrong"})
        a.check(post_json(Client(REMOTE_ADDR="10.3.3.3"), token, {"username": "supervisor", "password": "wrong"}),
                "POST", token, 429)

    # exports waiting for approval (issue 11)
    requests = "/api/v1/export-requests"
    web = Client()
    web.force_login(org.dispatcher)
    first = web.get("/cases/export.xlsx", {"reason": "核对"}).json()["export_request"]
    second = web.get("/cases/export.xlsx", {"reason": "核对"}).json()["export_request"]
    a.check(api("leader").get("/export-requests"), "GET", requests, 200)
    a.check(anon.get(requests), "GET", requests, 401)
    a.check(api("leader").get("/export-requests", status="lost"), "GET", requests, 422)
    for verb, number in (("approve", first), ("refuse", second)):
        path = f"{requests}/{number}/{verb}"
        a.check(api("dispatcher").post(f"/export-requests/{number}/{verb}"), "POST", path, 403)
        a.check(api("leader").post(f"/export-requests/{number}/{verb}"), "POST", path, 200)
        a.check(api("leader").post(f"/export-requests/{number}/{verb}"), "POST", path, 409)
        a.check(post_json(anon, path, {}), "POST", path, 401)
        a.check(api("leader").post(f"/export-requests/99999999/{verb}"), "POST", f"{requests}/99999999/{verb}", 404)
        a.check(api("leader").post(f"/export-requests/{2**70}/{verb}"), "POST", f"{requests}/{2**70}/{verb}", 422)
    # issue 12's operations: the portal, the documents, the screen-pop, the transfers
    from huiyin.portal.tests.openapi_drive import drive

    drive(a, api, tmp_path)

    # text assistance and the knowledge base (huiyin/text, huiyin/knowledge)
    text_scenarios: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("search", {"q": "卷烟"}, {"q": "卷烟", "limit": 0}),
        ("suggest", {"subject": "卷烟配送延误"}, {"subject": "长" * 201}),
        ("similar", {"subject": "卷烟配送延误"}, {"phone": "1" * 40}),
    ]
    for name, good, bad in text_scenarios:
        path = f"/api/v1/text/{name}"
        a.check(api("leader").get(f"/text/{name}", **good), "GET", path, 200)
        a.check(anon.get(path), "GET", path, 401)
        a.check(api("leader").get(f"/text/{name}", **bad), "GET", path, 422)
    articles, replies = "/api/v1/knowledge/articles", "/api/v1/knowledge/replies"
    a.check(api("agent").get("/knowledge/articles", q="许可证"), "GET", articles, 200)
    a.check(anon.get(articles), "GET", articles, 401)
    a.check(api("agent").get("/knowledge/articles"), "GET", articles, 422)
    a.check(api("leader").get("/knowledge/replies", case=n), "GET", replies, 200)
    a.check(anon.get(replies), "GET", replies, 401)
    a.check(api("leader").get("/knowledge/replies", case=NOBODY), "GET", replies, 404)
    a.check(api("leader").get("/knowledge/replies", case=n, purpose="poem"), "GET", replies, 422)

    # the reports (huiyin/reports): indicators, penalty entries, warnings
    ind, month = "/api/v1/reports/indicators", {"from": "2026-10-01", "to": "2026-10-31"}
    a.check(api("leader").get("/reports/indicators", unit="bureau", **month), "GET", ind, 200)
    a.check(anon.get(ind, month), "GET", ind, 401)
    a.check(api("handler_a").get("/reports/indicators", unit="county_b", **month), "GET", ind, 404)
    a.check(api("leader").get("/reports/indicators", **{**month, "from": "x"}), "GET", ind, 422)
    pen = "/api/v1/penalties"
    a.check(api("leader").get("/penalties"), "GET", pen, 200)
    a.check(anon.get(pen), "GET", pen, 401)
    a.check(api("handler_a").get("/penalties", unit="county_b"), "GET", pen, 404)
    a.check(api("leader").get("/penalties", **{"from": "2026-13-01"}), "GET", pen, 422)
    warn = "/api/v1/reports/warnings"
    a.check(api("leader").get("/reports/warnings"), "GET", warn, 200)
    a.check(anon.get(warn), "GET", warn, 401)
    a.check(api("leader").get("/reports/warnings", state="nonsense"), "GET", warn, 422)

    missing = declared(actions=False) - a.seen
    assert not missing, f"declared answers no scenario here produces: {sorted(missing)}"


def test_every_action_answers_its_errors_as_documented(api) -> None:
    """Each action's own operation, through every error it declares (their 200s: the workflow's
    tests, test_actions.py and the flows, all checked by the suite's plugin)."""
    a = Answers()
    n = case_in(api, "dispatched")  # seen by the centre, the bureau and county_a
    anon = Client()
    for name, action in ACTIONS.items():
        path = f"/api/v1/cases/{n}/actions/{name}"
        example = ACTION_EXAMPLES[name]
        a.check(post_json(anon, path, example), "POST", path, 401)
        a.check(api("auditor").act(n, name, example), "POST", path, 403)
        a.check(api("leader").act(NOBODY, name, example), "POST", f"/api/v1/cases/{NOBODY}/actions/{name}", 404)
        a.check(api(PERSONA[action.roles[0]]).act(n, name, {**example, "expected_version": 999}), "POST", path, 409)
        a.check(api("leader").post(f"/cases/{n}/actions/{name}", raw="{"), "POST", path, 422)
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
            a.check(api("leader").act(n, name, {"comment": "x" * 2000}), "POST", path, 413)
    missing = {(m, p, s) for m, p, s in declared(actions=True) if s != 200} - a.seen
    assert not missing, sorted(missing)
    r = api("leader").act(n, "explode")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_action"


def test_the_check_refuses_answers_the_document_does_not_describe(api) -> None:
    n = new_case(api)["number"]
    path = f"/api/v1/cases/{n}"
    case = api("agent").get(f"/cases/{n}").json()
    doc = document()

    def problems(body: Any, status: int = 200, ctype: str = "application/json") -> list[str]:
        return doc.problems("GET", path, status, ctype, json.dumps(body).encode())

    assert problems(case) == []
    assert "'priority' was unexpected" in " ".join(problems({**case, "priority": "high"}))
    assert "$.round" in " ".join(problems({**case, "round": "1"}))
    assert "$.received_at" in " ".join(problems({**case, "received_at": "2026-02-13T09:00:00"}))  # no offset
    assert "$.state" in " ".join(problems({**case, "state": "sleeping"}))
    assert '"version" is a required property' in " ".join(problems({k: v for k, v in case.items() if k != "version"}))
    assert "$.complainant" in " ".join(problems({**case, "complainant": {**case["complainant"], "id_number": "1"}}))
    assert "does not declare this status" in " ".join(problems(case, status=409))
    assert "answered text/html" in " ".join(problems(case, ctype="text/html"))
    assert problems({"error": {"code": "not_found", "message": "Not found.", "fields": {}}}, status=404) == []


def test_the_document_is_complete() -> None:
    doc = document().doc
    components = doc["components"]["schemas"]
    for name, schema in components.items():
        jsonschema_rs.meta.validate(schema)
        for ref in _refs(schema):
            assert ref.removeprefix("#/components/schemas/") in components, (name, ref)
    operation_ids = []
    for path, item in doc["paths"].items():
        assert "{action}" not in path
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation["responses"] and operation["summary"], where
            for status, response in operation["responses"].items():
                assert response.get("content"), f"{where} {status}: no content declared"
                for media, content in response["content"].items():
                    if media != "application/json":
                        assert content["schema"] == {"type": "string", "format": "binary"}, where
                        continue
                    refs = _refs(content["schema"])
                    assert refs, f"{where} {status}: a free schema, not a declared one"
                    for ref in refs:
                        _assert_closed(components, ref.removeprefix("#/components/schemas/"), where)
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if "requestBody" in operation:
                for content in operation["requestBody"]["content"].values():
                    assert content["schema"] != {"type": "object"}, f"{where}: a free body"
                    assert _refs(content["schema"]) or content["schema"].get("properties"), where
            if "security" in operation:
                assert "401" in operation["responses"], where
    assert len(operation_ids) == len(set(operation_ids))
    for name, action in ACTIONS.items():
        operation = doc["paths"][f"{ACTIONS_PATH}{name}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{action.input.__name__}"}
        assert operation["requestBody"]["required"] == bool(action.input.model_json_schema().get("required"))
        assert body["example"] == ACTION_EXAMPLES[name]


def test_every_action_has_a_summary_and_an_example_it_accepts() -> None:
    assert set(ACTION_SUMMARIES) == set(ACTIONS) == set(ACTION_EXAMPLES)
    for name, action in ACTIONS.items():
        inputs.parse(action.input, ACTION_EXAMPLES[name])


def test_the_published_document_is_the_one_checked(client) -> None:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.json() == document().doc
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and b"openapi.json" in r.content


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
        return own + [r for v in schema.values() for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


def _assert_closed(components: dict[str, Any], name: str, where: str, seen: set[str] | None = None) -> None:
    """Every object of a response body lists its keys and allows no other."""
    seen = seen if seen is not None else set()
    if name in seen:
        return
    seen.add(name)
    schema = components[name]
    if schema.get("type") == "object" or "properties" in schema:
        assert schema.get("additionalProperties") is False, f"{where}: {name} allows undescribed keys"
    for ref in _refs(schema):
        _assert_closed(components, ref.removeprefix("#/components/schemas/"), where, seen)
