"""The permission matrix (issue 11 item 13): every URL of the pages and every API operation × every
role (and no login) × a case of another unit × a report (举报) case.

Each route has an entry in PROBES saying how to request it and what each reader may get; a route
without one fails `test_every_route_has_an_expected_answer`, so a new page or operation cannot be
added without saying who may reach it. For every request, whatever the route:
- no answer is a 5xx;
- without a login: the login page (pages) or 401 (API), unless the route is public;
- a case the reader may not see answers 404, exactly like a missing case;
- the answer never names the reporter (name, phone — masked or not —, ID number) to a role that may
  not know them, never names a case the reader cannot see, and a search by the reporter's phone
  finds no report for such a role.

Readers: the demo personas (huiyin/conftest.py). Cases: `other_unit_case` (dispatched to county_a:
handler_b is outside) and `a_report` (dispatched to county_a: handler_a works on it but may not
know who reported; the reporter also filed `earlier_complaint`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from huiyin.api.tests.schema_check import document
from huiyin.cases.access import case_for, may_see_identity
from huiyin.cases.models import Case
from huiyin.cases.workflow import ACTIONS
from huiyin.conftest import Personas, demo_api, shared_data
from huiyin.documents.tests.helpers import pdf_text
from huiyin.notify.services import enqueue
from huiyin.org.models import ApiToken, User
from huiyin.org.tokens import token_issue
from huiyin.tests.security_fixtures import (
    REPORTER,
    REPORTER_ID,
    REPORTER_PHONE,
    make_a_report,
    make_earlier_complaint,
    make_other_unit_case,
)
from huiyin.tests.url_coverage import EXEMPT, keys
from huiyin.web.models import SavedFilter

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
READERS = [None, "agent", "dispatcher", "leader", "supervisor", "handler_a", "handler_b", "auditor", "admin"]
ANY = frozenset(range(200, 500))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Probe:
    method: str
    path: str  # {number} {token} {pk} {request_id} {token_id} {item_id} {action} are filled in
    case: bool = False  # names a case: who may not see it gets 404
    public: bool = False  # answers without a login
    ok: frozenset[int] = ANY  # what a reader who may reach it may get
    roles: tuple[str, ...] | None = None  # only these roles reach it; the others get `refused`
    refused: frozenset[int] = frozenset({403, 404})
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    fresh: bool = False  # a client of its own (the request ends the session)
    upload: bool = False  # the body is a file (multipart)
    confidential: bool = False  # the report's confidential file: 404 for roles that may not know the reporter


SEARCH = {"q": REPORTER_PHONE}
PAGES: dict[str, Probe] = {
    "/": Probe("GET", "/", ok=frozenset({200})),
    "/account/security/": Probe("GET", "/account/security/", ok=frozenset({200})),
    "/account/signout-everywhere": Probe("POST", "/account/signout-everywhere", ok=frozenset({302}), fresh=True),
    "/api/v1/": Probe("GET", "/api/v1/", public=True, ok=frozenset({404})),
    "/api/v1/docs": Probe("GET", "/api/v1/docs", public=True, ok=frozenset({200})),
    "/api/v1/openapi.json": Probe("GET", "/api/v1/openapi.json", public=True, ok=frozenset({200})),
    "/approvals/": Probe("GET", "/approvals/", ok=frozenset({200})),
    "/board/": Probe("GET", "/board/", ok=frozenset({200})),
    "/cases/": Probe("GET", "/cases/", params=SEARCH, ok=frozenset({200})),
    "/cases/<str:number>/": Probe("GET", "/cases/{number}/", case=True, ok=frozenset({200})),
    "/cases/<str:number>/act/<str:action>": Probe("POST", "/cases/{number}/act/{action}", case=True,
                                                  body={"expected_version": "1"}),
    "/cases/<str:number>/attach": Probe("POST", "/cases/{number}/attach", case=True, ok=frozenset({302}),
                                        upload=True),
    "/cases/<str:number>/files/<str:token>": Probe("GET", "/cases/{number}/files/{token}", case=True,
                                                   ok=frozenset({200}), confidential=True),
    "/cases/export.xlsx": Probe("GET", "/cases/export.xlsx", params={**SEARCH, "reason": "矩阵"},
                                ok=frozenset({200, 202})),
    "/cases/filters/<int:pk>/delete": Probe("POST", "/cases/filters/{pk}/delete", roles=("dispatcher",),
                                            ok=frozenset({302}), refused=frozenset({404})),
    "/cases/filters/save": Probe("POST", "/cases/filters/save", body={"name": "矩阵", "query": "q=1"},
                                 ok=frozenset({302})),
    "/dashboard/": Probe("GET", "/dashboard/", ok=frozenset({200})),
    "/healthz": Probe("GET", "/healthz", public=True, ok=frozenset({200})),
    "/i18n/setlang/": Probe("POST", "/i18n/setlang/", public=True, body={"language": "en"}, ok=frozenset({302})),
    "/inbox/": Probe("GET", "/inbox/", ok=frozenset({200})),
    "/inbox/<int:pk>/read": Probe("POST", "/inbox/{item_id}/read", roles=("leader",), ok=frozenset({302}),
                                  refused=frozenset({404})),
    "/intake/": Probe("GET", "/intake/", ok=frozenset({200})),
    "/intake/lookup": Probe("GET", "/intake/lookup", params={"complainant_phone": REPORTER_PHONE},
                            roles=("agent", "dispatcher"), ok=frozenset({200}), refused=frozenset({403})),
    "/login/": Probe("GET", "/login/", public=True, ok=frozenset({200, 302})),
    "/login/code/": Probe("GET", "/login/code/", public=True, ok=frozenset({302})),
    "/login/enrol/": Probe("GET", "/login/enrol/", public=True, ok=frozenset({302})),
    "/logout/": Probe("POST", "/logout/", public=True, ok=frozenset({302}), fresh=True),
    "/privacy/exports/": Probe("GET", "/privacy/exports/", ok=frozenset({200})),
    "/privacy/exports/<int:pk>/decide": Probe("POST", "/privacy/exports/{request_id}/decide",
                                              body={"decision": "refuse"}, roles=("leader", "dispatcher"),
                                              ok=frozenset({302}), refused=frozenset({404})),
    # the reports (huiyin/reports): figures of the reader's own scope; a pk that is not the reader's: 404
    "/reports/": Probe("GET", "/reports/", params={"from": "2026-09-01", "to": "2026-10-31"}, ok=frozenset({200})),
    "/reports/analysis/": Probe("GET", "/reports/analysis/", params={"period": "2026-10"}, ok=frozenset({200})),
    "/reports/analysis.xlsx": Probe("GET", "/reports/analysis.xlsx", params={"period": "2026-10"},
                                    ok=frozenset({200})),
    "/reports/major/<str:number>/": Probe("GET", "/reports/major/{number}/", case=True, ok=frozenset({200})),
    "/reports/runs/": Probe("GET", "/reports/runs/", ok=frozenset({200})),
    "/reports/runs/<int:pk>/": Probe("GET", "/reports/runs/{pk}/", ok=frozenset({404})),
    "/reports/bulletins/": Probe("GET", "/reports/bulletins/", ok=frozenset({200})),
    "/reports/bulletins/new": Probe("POST", "/reports/bulletins/new", body={"period": "2026-10"},
                                    ok=frozenset({302})),
    "/reports/bulletins/<int:pk>/": Probe("GET", "/reports/bulletins/{pk}/", ok=frozenset({404})),
    "/reports/bulletins/<int:pk>/publish": Probe("POST", "/reports/bulletins/{pk}/publish", ok=frozenset({404})),
    "/reports/bulletins/<int:pk>/bulletin.xlsx": Probe("GET", "/reports/bulletins/{pk}/bulletin.xlsx",
                                                       ok=frozenset({404})),
    "/reports/warnings/": Probe("GET", "/reports/warnings/", ok=frozenset({200})),
    "/reports/warnings/<int:pk>/": Probe("GET", "/reports/warnings/{pk}/", ok=frozenset({404})),
    "/reports/warnings/<int:pk>/<str:act>": Probe("POST", "/reports/warnings/{pk}/acknowledge", ok=frozenset({404})),
    "/reports/penalties/": Probe("GET", "/reports/penalties/", ok=frozenset({200})),
    "/reports/penalties/export.xlsx": Probe("GET", "/reports/penalties/export.xlsx", ok=frozenset({200})),
    "/reports/penalties/record": Probe("POST", "/reports/penalties/record", body={"rule": "x"},
                                       ok=frozenset({302})),
    "/reports/penalties/<int:pk>/appeal": Probe("POST", "/reports/penalties/{pk}/appeal", ok=frozenset({404})),
    "/reports/penalties/<int:pk>/decide": Probe("POST", "/reports/penalties/{pk}/decide", ok=frozenset({404})),
    "/reports/quality/": Probe("GET", "/reports/quality/", ok=frozenset({200})),
    "/reports/quality/<str:number>/": Probe("GET", "/reports/quality/{number}/", case=True, ok=frozenset({200})),
    "/reports/actions/": Probe("GET", "/reports/actions/", ok=frozenset({200})),
    "/reports/actions/new": Probe("GET", "/reports/actions/new", ok=frozenset({200, 404})),
    "/reports/actions/<int:pk>/": Probe("GET", "/reports/actions/{pk}/", ok=frozenset({404})),
    "/reports/actions/<int:pk>/<str:act>": Probe("POST", "/reports/actions/{pk}/submit", ok=frozenset({404})),
    "/reports/volumes/": Probe("GET", "/reports/volumes/", ok=frozenset({200})),
}
API: dict[str, Probe] = {
    "POST /api/v1/auth/token": Probe("POST", "/api/v1/auth/token", public=True,  # then the address is locked out
                                     body={"username": "nobody", "password": "wrong"}, ok=frozenset({401, 429})),
    "DELETE /api/v1/auth/token": Probe("DELETE", "/api/v1/auth/token", ok=frozenset({200}), fresh=True),
    "GET /api/v1/auth/tokens": Probe("GET", "/api/v1/auth/tokens", ok=frozenset({200})),
    "DELETE /api/v1/auth/tokens/{token_id}": Probe("DELETE", "/api/v1/auth/tokens/{token_id}",
                                                   roles=("admin", "handler_b"),  # an administrator, the holder
                                                   ok=frozenset({200}), refused=frozenset({404})),
    "GET /api/v1/calendar/day": Probe("GET", "/api/v1/calendar/day", params={"date": "2026-10-01"},
                                      ok=frozenset({200})),
    "GET /api/v1/calendar/deadline": Probe("GET", "/api/v1/calendar/deadline", ok=frozenset({200}), params={
        "start": "2026-09-30T09:00:00+08:00", "amount": 2, "unit": "working_days"}),
    "GET /api/v1/cases": Probe("GET", "/api/v1/cases", params=SEARCH, ok=frozenset({200})),
    "POST /api/v1/cases": Probe("POST", "/api/v1/cases", body={"kind": "complaint"}, ok=frozenset({403, 422})),
    "GET /api/v1/cases/{number}": Probe("GET", "/api/v1/cases/{number}", case=True, ok=frozenset({200})),
    "GET /api/v1/cases/{number}/timeline": Probe("GET", "/api/v1/cases/{number}/timeline", case=True,
                                                 ok=frozenset({200})),
    "GET /api/v1/cases/{number}/attachments": Probe("GET", "/api/v1/cases/{number}/attachments", case=True,
                                                    ok=frozenset({200})),
    "POST /api/v1/cases/{number}/attachments": Probe("POST", "/api/v1/cases/{number}/attachments", case=True,
                                                     ok=frozenset({201, 403}), upload=True),
    "GET /api/v1/cases/{number}/attachments/{token}": Probe("GET", "/api/v1/cases/{number}/attachments/{token}",
                                                            case=True, ok=frozenset({200}), confidential=True),
    "GET /api/v1/categories": Probe("GET", "/api/v1/categories", ok=frozenset({200})),
    "GET /api/v1/export-requests": Probe("GET", "/api/v1/export-requests", ok=frozenset({200})),
    "POST /api/v1/export-requests/{request_id}/approve": Probe(
        "POST", "/api/v1/export-requests/{request_id}/approve", ok=frozenset({200, 409}), roles=("leader",),
        refused=frozenset({403, 404})),
    "POST /api/v1/export-requests/{request_id}/refuse": Probe(
        "POST", "/api/v1/export-requests/{request_id}/refuse", ok=frozenset({200, 409}), roles=("leader",),
        refused=frozenset({403, 404})),
    "GET /api/v1/notifications": Probe("GET", "/api/v1/notifications", ok=frozenset({200})),
    "GET /api/v1/reports/indicators": Probe("GET", "/api/v1/reports/indicators", ok=frozenset({200}),
                                            params={"from": "2026-09-01", "to": "2026-10-31"}),
    "GET /api/v1/penalties": Probe("GET", "/api/v1/penalties", ok=frozenset({200})),
    "GET /api/v1/reports/warnings": Probe("GET", "/api/v1/reports/warnings", ok=frozenset({200})),
    "POST /api/v1/notifications/{item_id}/read": Probe("POST", "/api/v1/notifications/{item_id}/read",
                                                       roles=("leader",), ok=frozenset({200}),
                                                       refused=frozenset({404})),
}
# issue 13: help from the text — search, suggestions and similar cases within the reader's scope, the
# knowledge base; a guessed reporter's phone confirms nothing (`_leaks`)
PAGES.update({
    "/text/assist/": Probe("GET", "/text/assist/", params={"subject": "配送延误", "phone": REPORTER_PHONE},
                           ok=frozenset({200})),
    "/text/search/": Probe("GET", "/text/search/", params=SEARCH, ok=frozenset({200})),
    "/text/models/": Probe("GET", "/text/models/", roles=("leader", "supervisor", "admin"), ok=frozenset({200}),
                           refused=frozenset({404})),
    "/knowledge/suggest/": Probe("GET", "/knowledge/suggest/", params={"subject": "配送延误"}, ok=frozenset({200})),
    "/knowledge/articles/": Probe("GET", "/knowledge/articles/", params={"q": "配送"}, ok=frozenset({200})),
    "/knowledge/articles/<int:pk>/": Probe("GET", "/knowledge/articles/999999/", ok=frozenset({404})),
    "/knowledge/propose/": Probe("GET", "/knowledge/propose/", params={"case": "{number}"}, case=True,
                                 ok=frozenset({200})),
    "/knowledge/replies/": Probe("GET", "/knowledge/replies/", params={"case": "{number}"}, case=True,
                                 ok=frozenset({200})),
})
API.update({
    "GET /api/v1/text/search": Probe("GET", "/api/v1/text/search", params=SEARCH, ok=frozenset({200})),
    "GET /api/v1/text/suggest": Probe("GET", "/api/v1/text/suggest", params={"subject": "配送延误"},
                                      ok=frozenset({200})),
    "GET /api/v1/text/similar": Probe("GET", "/api/v1/text/similar",
                                      params={"subject": "配送延误", "phone": REPORTER_PHONE}, ok=frozenset({200})),
    "GET /api/v1/knowledge/articles": Probe("GET", "/api/v1/knowledge/articles", params={"q": "配送"},
                                            ok=frozenset({200})),
    "GET /api/v1/knowledge/replies": Probe("GET", "/api/v1/knowledge/replies", params={"case": "{number}"},
                                           case=True, ok=frozenset({200})),
})
# issue 12: the public portal (no login: the same answers for everyone; a case is reached only by
# its query code or a browser that opened it, so none here), documents, the call centre, transfers
_LIMITED = frozenset({428, 429})  # the portal's rate limits, after repeated use from one address
PAGES.update({
    "/portal/": Probe("GET", "/portal/", public=True, ok=frozenset({200})),
    "/portal/privacy/": Probe("GET", "/portal/privacy/", public=True, ok=frozenset({200})),
    "/portal/submit/": Probe("GET", "/portal/submit/", public=True, ok=frozenset({200})),
    "/portal/track/": Probe("GET", "/portal/track/", public=True, ok=frozenset({200})),
    "/portal/forget/": Probe("POST", "/portal/forget/", public=True, ok=frozenset({302})),
    "/portal/challenge/<str:challenge_id>.png": Probe("GET", "/portal/challenge/none.png", public=True,
                                                      ok=frozenset({404})),
    "/portal/cases/<str:number>/": Probe("GET", "/portal/cases/{number}/", public=True, ok=frozenset({302})),  # to the track form
    "/portal/cases/<str:number>/documents/<str:kind>.<str:fmt>": Probe(
        "GET", "/portal/cases/{number}/documents/acceptance_notice.pdf", public=True, ok=frozenset({404})),
    "/portal/cases/<str:number>/information": Probe("POST", "/portal/cases/{number}/information", public=True,
                                                    body={"text": "补充"}, ok=frozenset({404}) | _LIMITED),
    "/portal/cases/<str:number>/reopen": Probe("POST", "/portal/cases/{number}/reopen", public=True,
                                               body={"reason": "重办"}, ok=frozenset({404}) | _LIMITED),
    "/portal/cases/<str:number>/satisfaction": Probe("POST", "/portal/cases/{number}/satisfaction", public=True,
                                                     body={"satisfaction": "satisfied"},
                                                     ok=frozenset({404}) | _LIMITED),
    "/documents/<str:number>/<str:kind>.<str:fmt>": Probe("GET", "/documents/{number}/record_form.html", case=True,
                                                          ok=frozenset({200, 403})),
    "/callcentre/pop/": Probe("GET", "/callcentre/pop/", params={"phone": REPORTER_PHONE}, ok=frozenset({200, 403})),
})
API.update({
    "POST /api/v1/portal/cases": Probe("POST", "/api/v1/portal/cases", public=True, body={"kind": "complaint"},
                                       ok=frozenset({422}) | _LIMITED),
    "GET /api/v1/portal/cases/{number}": Probe("GET", "/api/v1/portal/cases/{number}", public=True,
                                               ok=frozenset({404}) | _LIMITED),
    "GET /api/v1/portal/track": Probe("GET", "/api/v1/portal/track", public=True, ok=frozenset({404}) | _LIMITED),
    "POST /api/v1/portal/cases/{number}/information": Probe(
        "POST", "/api/v1/portal/cases/{number}/information", public=True, body={"text": "补充"},
        ok=frozenset({404}) | _LIMITED),
    "POST /api/v1/portal/cases/{number}/reopen": Probe(
        "POST", "/api/v1/portal/cases/{number}/reopen", public=True, body={"reason": "重办"},
        ok=frozenset({404}) | _LIMITED),
    "POST /api/v1/portal/cases/{number}/satisfaction": Probe(
        "POST", "/api/v1/portal/cases/{number}/satisfaction", public=True, body={"satisfaction": "satisfied"},
        ok=frozenset({404}) | _LIMITED),
    "POST /api/v1/portal/challenges": Probe("POST", "/api/v1/portal/challenges", public=True,
                                            ok=frozenset({201, 429})),
    "GET /api/v1/cases/{number}/documents/{kind}.html": Probe(
        "GET", "/api/v1/cases/{number}/documents/record_form.html", case=True, ok=frozenset({200, 403})),
    "GET /api/v1/cases/{number}/documents/{kind}.pdf": Probe(
        "GET", "/api/v1/cases/{number}/documents/record_form.pdf", case=True, ok=frozenset({200, 403})),
    "GET /api/v1/screen-pop": Probe("GET", "/api/v1/screen-pop", params={"phone": REPORTER_PHONE},
                                    ok=frozenset({200})),
    "POST /api/v1/transfers": Probe("POST", "/api/v1/transfers", body={}, ok=frozenset({403})),
})
for _name in ACTIONS:  # every action: 404 outside, a clear 4xx (or 200) inside, never 500
    API[f"POST /api/v1/cases/{{number}}/actions/{_name}"] = Probe(
        "POST", f"/api/v1/cases/{{number}}/actions/{_name}", case=True, body={"expected_version": 1})
PROBES = {**PAGES, **API}


def test_every_route_has_an_expected_answer() -> None:
    missing = sorted(keys(document().doc) - set(PROBES))
    assert not missing, ("routes without an expected answer in the permission matrix (add a Probe to "
                         f"huiyin/tests/test_permission_matrix.py): {missing}")
    assert not set(PROBES) - keys(document().doc), "probes of routes that no longer exist"
    assert set(EXEMPT) <= set(PROBES)


@dataclass
class World:
    numbers: dict[str, str]
    tokens: dict[str, str]
    ids: dict[str, Any]
    secrets: list[str]


@pytest.fixture(scope="module")
def shared_world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    """The cases, files, filter, notification, export request and token the probes name, built
    once for the module's rows (each row's requests are rolled back after it, as always)."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("matrix-files")):
        yield from shared_data(django_db_blocker, _build_world)


def _build_world() -> World:
    api = demo_api()
    org: Any = Personas()
    earlier_complaint = make_earlier_complaint(api)
    a_report = make_a_report(api)
    other_unit_case = make_other_unit_case(api)
    letter = Client().post(f"/api/v1/cases/{a_report}/attachments", {"file": SimpleUploadedFile("信.png", PNG)},
                           headers=api("agent").headers).json()["token"]  # confidential: the centre's, on a report
    photo = Client().post(f"/api/v1/cases/{other_unit_case}/attachments", {"file": SimpleUploadedFile("照片.png", PNG)},
                          headers=api("agent").headers).json()["token"]
    saved = SavedFilter.objects.create(user=org.dispatcher, name="mine", query="kind=report")
    enqueue("case.dispatched", case_number=other_unit_case, context={}, dedupe="matrix", recipients=[org.leader.pk])
    from huiyin.notify.models import InboxItem

    item = InboxItem.objects.filter(user=org.leader).first()
    web = Client()
    web.force_login(org.dispatcher)
    request_id = web.get("/cases/export.xlsx", {"reason": "矩阵"}).json()["export_request"]
    token_issue(org.handler_b, name="matrix")
    assert earlier_complaint
    return World(
        numbers={"other": other_unit_case, "report": a_report},
        tokens={a_report: letter, other_unit_case: photo},
        ids={"pk": saved.pk, "item_id": item.pk if item else 1, "request_id": request_id,
             "token_id": ApiToken.objects.filter(user=org.handler_b).first().pk, "action": "acknowledge"},
        secrets=[REPORTER, REPORTER_PHONE, REPORTER_ID, REPORTER_PHONE[:3] + "****" + REPORTER_PHONE[-4:]],
    )


@pytest.fixture
def world(org: Any, shared_world: World) -> World:
    return shared_world


def _client(user: User | None, api_route: bool, cache: dict[Any, Any], fresh: bool) -> tuple[Client, dict[str, str]]:
    key = (user.pk if user else None, api_route)
    if not fresh and key in cache:
        return cache[key]
    client, headers = Client(), {}
    if user is not None:
        if api_route:
            headers = {"Authorization": f"Bearer {token_issue(user, name='matrix-reader')}"}
        else:
            client.force_login(user)
    if not fresh:
        cache[key] = (client, headers)
    return client, headers


def _names_case(probe: Probe) -> bool:
    """A probe names a case in its path or in a parameter (`?case={number}`)."""
    return "{number}" in probe.path or any("{number}" in str(v) for v in probe.params.values())


def _params(probe: Probe, number: str) -> dict[str, Any]:
    return {k: v.format(number=number) if isinstance(v, str) and "{number}" in v else v
            for k, v in probe.params.items()}


def _request(client: Client, probe: Probe, path: str, headers: dict[str, str], api_route: bool,
             number: str = "") -> Any:
    if probe.upload:
        field_name = "file" if api_route else "files"
        return client.post(path, {field_name: SimpleUploadedFile("x.png", PNG)}, headers=headers)
    if probe.method == "GET":
        return client.get(path, _params(probe, number), headers=headers)
    if probe.method == "DELETE":
        return client.delete(path, headers=headers)
    if api_route:
        return client.post(path, json.dumps(probe.body or {}), content_type="application/json", headers=headers)
    return client.post(path, probe.body or {}, headers=headers)


@pytest.mark.slow
@pytest.mark.parametrize("reader", READERS, ids=lambda name: name or "anonymous")
def test_the_matrix(org: Any, world: World, reader: str | None) -> None:
    """One reader's row of the matrix: every probe (× each case it names). One test per reader, so
    the parallel workers share the matrix out (it is the suite's longest test; issue 9 item 7)."""
    problems: list[str] = []
    cache: dict[Any, Any] = {}
    requests = 0
    # the probes that end sessions or tokens (signing out everywhere ends every one of the user's) go last
    for route, probe in sorted(PROBES.items(), key=lambda kv: kv[1].fresh):
        api_route = route.startswith(("GET ", "POST ", "DELETE ")) or probe.path.startswith("/api/v1/")
        for which, number in (world.numbers.items() if _names_case(probe) else [("—", "")]):
            name = reader
            user = User.objects.get(username=name) if name else None  # fresh: an epoch may have moved
            path = probe.path.format(number=number, token=world.tokens.get(number, "none"), **world.ids)
            client, headers = _client(user, api_route, cache, probe.fresh)
            # what the reader may see of the case, as it stands before the request (only these probes ask)
            seen = case_for(user, number) if user is not None and number and (probe.case or probe.confidential) \
                else None
            r = _request(client, probe, path, headers, api_route, number)
            requests += 1
            where = f"{probe.method} {path} as {name or 'anonymous'}: {r.status_code}"
            expected = _expected(probe, user, name, number, seen, api_route)
            if r.status_code >= 500 or r.status_code not in expected:
                problems.append(f"{where}, expected one of {sorted(expected)}")
            typed = path + json.dumps(_params(probe, number), ensure_ascii=False)
            problems += _leaks(r, user, world, where, typed=typed)
    assert requests >= len(PROBES) > 100  # every route, once per case it names
    assert not problems, "\n".join(problems[:60])


def _expected(probe: Probe, user: User | None, name: str | None, number: str, seen: Case | None,
              api_route: bool) -> frozenset[int]:
    if user is None:
        if probe.public:
            return probe.ok
        return frozenset({401}) if api_route else frozenset({302})
    if probe.case and seen is None:
        return frozenset({404})
    if probe.confidential and seen is not None and seen.kind == "report" and not may_see_identity(user, seen):
        return frozenset({404})
    if probe.roles is not None and name not in probe.roles:
        return probe.refused
    return probe.ok


def _text_of(r: Any) -> str:
    """The text a reader gets from an answer: a workbook's cells, a PDF's text (its bytes are
    compressed: a name in it is not in the body as it is), or the body itself."""
    body = b"".join(r.streaming_content) if r.streaming else r.content
    content_type = r.get("Content-Type", "")
    if content_type.startswith("application/vnd.openxmlformats"):
        from openpyxl import load_workbook

        return " ".join(str(v) for ws in load_workbook(io.BytesIO(body)).worksheets
                        for row in ws.iter_rows(values_only=True) for v in row)
    if content_type.startswith("application/pdf"):
        text = pdf_text(body)
        # a line break or a space the layout put inside a name or a number hides nothing
        return text + "\n" + re.sub(r"\s+", "", text)
    return str(body.decode("utf-8", "replace"))


def _leaks(r: Any, user: User | None, world: World, where: str, typed: str) -> list[str]:
    """What the answer tells that the reader may not know. What the reader typed (in this request,
    or as the filters of their own earlier export request: `q=<phone>`) is not news to them."""
    text = _text_of(r)
    text = text.replace(f"q={REPORTER_PHONE}", "q=…").replace(f"q%3D{REPORTER_PHONE}", "q=…")
    found: list[str] = []
    # The reader's rights are read only when the answer names what they could forbid (the same
    # verdicts as reading them for every answer, at a fraction of the queries: issue 9 item 7).
    named = [secret for secret in world.secrets if secret in text and secret not in typed]
    finds_report = world.numbers["report"] in text and ("q=" in where or REPORTER_PHONE in where or "lookup" in where)
    if named or finds_report:
        report = Case.objects.get(number=world.numbers["report"])
        knows_reporter = user is not None and may_see_identity(user, report)
        if not knows_reporter:
            if named:
                # the earlier complaint names the same person; who may read that complaint sees its complainant
                earlier = Case.objects.filter(complainant_phone_hash=report.complainant_phone_hash).exclude(
                    pk=report.pk).first()
                reads_complaint = user is not None and earlier is not None \
                    and case_for(user, earlier.number) is not None and may_see_identity(user, earlier)
                if not reads_complaint:
                    found += [f"{where}: names the reporter ({secret!r})" for secret in named]
            if finds_report:
                found.append(f"{where}: a search by the reporter's phone finds the report")
    other = world.numbers["other"]
    if user is not None and other in text and other not in typed and case_for(user, other) is None:
        found.append(f"{where}: names {other}, which the reader gets 404 on")
    return found


def test_the_matrix_reads_a_pdf_that_names_the_reporter(org: Any, world: World) -> None:
    """The leak check reads a PDF's text: the report's record form names the reporter to a reader
    who may know them, and the same answer handed to the check as one for a reader who may know
    neither the reporter nor the earlier complaint's complainant (the same person) is a leak."""
    report = Case.objects.get(number=world.numbers["report"])
    earlier = Case.objects.filter(complainant_phone_hash=report.complainant_phone_hash).exclude(pk=report.pk).get()
    readers = [User.objects.get(username=n) for n in READERS if n]
    knows = next(u for u in readers if may_see_identity(u, report))
    stranger = next(u for u in readers if not may_see_identity(u, report)
                    and not (case_for(u, earlier.number) is not None and may_see_identity(u, earlier)))
    path = f"/api/v1/cases/{report.number}/documents/record_form.pdf"
    r = Client().get(path, headers={"Authorization": f"Bearer {token_issue(knows, name='matrix-pdf')}"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/pdf")
    assert REPORTER.encode() not in r.content  # compressed: the bytes alone would tell the check nothing
    assert REPORTER in _text_of(r) and REPORTER_PHONE in _text_of(r)
    found = _leaks(r, stranger, world, f"GET {path} as {stranger.username}", typed=path)
    assert any(f"names the reporter ({REPORTER!r})" in f for f in found), found
    assert not _leaks(r, knows, world, f"GET {path} as {knows.username}", typed=path)
