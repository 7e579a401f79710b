"""The 404 and 403 pages: a visitor who is not signed in (a member of the public, a portal
visitor) sees no staff menu or case search; a signed-in member of staff keeps the usual frame."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.views.defaults import permission_denied

pytestmark = pytest.mark.django_db

STAFF_MENU = ("我的待办", 'href="/cases/"', 'role="search"', "统计")


def test_an_anonymous_visitor_sees_no_staff_menu_on_a_404(org: Any, settings: Any) -> None:
    assert settings.DEBUG is False  # the project's 404 page, not Django's debug page
    r = Client().get("/accounts/login/")
    html = r.content.decode()
    assert r.status_code == 404 and "没有这个页面" in html
    assert [s for s in STAFF_MENU if s in html] == []
    assert 'href="/login/"' in html and "返回我的待办" not in html
    assert "单位" not in html  # a visitor has no units: the staff's wording is not theirs


def test_the_portal_keeps_its_own_frame_on_a_404_and_on_a_stale_form(org: Any) -> None:
    """A member of the public stays in the portal, with a way back to it: no staff menu, no
    sign-in, no staff wording."""
    r = Client().get("/portal/no-such-page/")
    html = r.content.decode()
    assert r.status_code == 404 and "没有这个页面" in html and "网上投诉与查询" in html
    assert 'href="/portal/submit/"' in html and 'href="/portal/track/"' in html
    assert [s for s in STAFF_MENU if s in html] == [] and 'href="/login/"' not in html and "单位" not in html
    # a form whose CSRF token no longer matches (a stale page, cookies cleared)
    r = Client(enforce_csrf_checks=True).post("/portal/track/", {"number": "TB20261203-000001", "code": "X"})
    html = r.content.decode()
    assert r.status_code == 403 and "页面已过期" in html and 'href="/portal/"' in html
    assert [s for s in STAFF_MENU if s in html] == [] and "返回我的待办" not in html and "CSRF" not in html
    # the staff's pages keep the staff's
    r = Client(enforce_csrf_checks=True).post("/login/", {"username": "agent", "password": "x"})
    assert r.status_code == 403 and "CSRF" in r.content.decode()


def test_signed_in_staff_keep_the_staff_menu_on_a_404(web: Any) -> None:
    r = web("agent").get("/accounts/login/")
    html = r.content.decode()
    assert r.status_code == 404 and "没有这个页面" in html
    assert [s for s in STAFF_MENU if s not in html] == []
    assert "返回我的待办" in html and "不在您的单位范围内" in html


def test_an_anonymous_visitor_sees_no_staff_menu_on_a_403(org: Any) -> None:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    html = permission_denied(request, PermissionDenied()).content.decode()
    assert "403" in html and [s for s in STAFF_MENU if s in html] == []


def test_a_refused_request_is_logged_on_one_line_without_a_traceback(org, caplog) -> None:
    import logging

    client = Client()
    client.force_login(org.handler_a)  # a handler may not look callers up at intake
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/intake/lookup", {"phone": "13800000000"}).status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request" and r.status_code == 403]
    assert refused and refused[0].getMessage() == "Forbidden (Permission denied): /intake/lookup"
    assert refused[0].exc_info is None and "Traceback" not in caplog.text
    # and WeasyPrint's progress lines stay out of the log, its warnings do not
    assert not logging.getLogger("weasyprint.progress").isEnabledFor(logging.INFO)
    assert logging.getLogger("weasyprint").isEnabledFor(logging.WARNING)
