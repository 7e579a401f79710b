"""Signing in as an attacker would try it: lockout by user and by address on the pages and the API,
the administrator's unlock, one-time codes where the role needs them, sessions that end, tokens
that die with the password, accounts administered without code — each audited.

Personas: the demo organisation's (huiyin/conftest.py), password "pw-for-tests".
"""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from huiyin.org import mfa
from huiyin.org.models import ApiToken, AuditEntry, Membership, TotpDevice, User
from huiyin.org.tokens import token_issue

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests"
TOKEN = "/api/v1/auth/token"


def post_json(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def web_login(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def actions(target: str | None = None) -> list[str]:
    qs = AuditEntry.objects.order_by("id")
    if target is not None:
        qs = qs.filter(target=target)
    return list(qs.values_list("action", flat=True))


# --- lockout ----------------------------------------------------------------------------------


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_api_locks_a_user_out_after_repeated_failures_even_with_the_right_password(org) -> None:
    c = Client()
    for _ in range(2):
        assert post_json(c, TOKEN, {"username": "agent", "password": "wrong"}).status_code == 401
    r = post_json(c, TOKEN, {"username": "agent", "password": "wrong"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "locked_out" and int(r["Retry-After"]) > 0
    r = post_json(c, TOKEN, {"username": "agent", "password": PASSWORD})
    assert r.status_code == 429, "the right password does not get through a lockout"
    assert "lockout" in actions("agent")
    # another user from another address is not affected
    assert post_json(Client(REMOTE_ADDR="10.9.9.9"), TOKEN, {"username": "dispatcher", "password": PASSWORD}).status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_login_page_locks_out_by_user_name_from_any_address(org) -> None:
    for i in range(3):
        web_login(Client(REMOTE_ADDR=f"10.0.0.{i + 1}"), "leader", "wrong")
    r = web_login(Client(REMOTE_ADDR="10.0.0.99"), "leader")
    assert r.status_code == 429
    assert "locked" in r.content.decode().lower() or "锁定" in r.content.decode()
    assert "_auth_user_id" not in Client().session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_an_address_trying_many_user_names_is_locked_out(org) -> None:
    c = Client(REMOTE_ADDR="10.1.1.1")
    for name in ("alice", "bob", "carol"):
        web_login(c, name, "guess")
    assert web_login(c, "agent").status_code == 429  # a real user, the right password, the same address
    assert web_login(Client(REMOTE_ADDR="10.1.1.2"), "agent").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_an_administrator_unlocks_a_user(org) -> None:
    for _ in range(2):
        post_json(Client(), TOKEN, {"username": "agent", "password": "wrong"})
    assert post_json(Client(), TOKEN, {"username": "agent", "password": PASSWORD}).status_code == 429
    out = StringIO()
    call_command("user", "unlock", "agent", stdout=out)
    assert "agent unlocked" in out.getvalue()
    assert post_json(Client(), TOKEN, {"username": "agent", "password": PASSWORD}).status_code == 200
    assert "unlock" in actions("agent")


@override_settings(AXES_FAILURE_LIMIT=2, AXES_COOLOFF_TIME=0.5)
def test_a_lockout_ends_by_itself_after_the_cool_off(org) -> None:
    for _ in range(2):
        post_json(Client(), TOKEN, {"username": "agent", "password": "wrong"})
    assert post_json(Client(), TOKEN, {"username": "agent", "password": PASSWORD}).status_code == 429
    with time_machine.travel(time.time() + 31 * 60, tick=False):
        assert post_json(Client(), TOKEN, {"username": "agent", "password": PASSWORD}).status_code == 200


def test_the_address_behind_trusted_proxies_is_the_one_the_proxy_saw(rf) -> None:
    from huiyin.org.auth import client_ip

    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "127.0.0.1"  # no proxy trusted: a client cannot choose its address
    with override_settings(PROXY_COUNT=1):
        assert client_ip(request) == "203.0.113.7"  # what our proxy saw, not what the client claimed


# --- one-time codes -----------------------------------------------------------------------------


def enrolled(user: User) -> TotpDevice:
    device = mfa.enrolment(user)
    TotpDevice.objects.filter(pk=device.pk).update(confirmed=True)
    device.refresh_from_db()
    return device


def test_the_demo_organisation_signs_in_with_its_password_alone_outside_production(org) -> None:
    for username in ("leader", "auditor", "admin", "agent"):
        assert web_login(Client(), username).status_code == 302
        assert post_json(Client(), TOKEN, {"username": username, "password": PASSWORD}).status_code == 200


@override_settings(MFA_REQUIRED=True)
def test_roles_that_decide_enrol_an_authenticator_at_their_first_sign_in(org) -> None:
    c = Client()
    r = web_login(c, "leader")
    assert r.status_code == 302 and r["Location"] == "/login/enrol/"
    assert c.get("/").status_code == 302, "the password alone does not sign in"
    page = c.get("/login/enrol/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TotpDevice.objects.get(user=org.leader)
    assert not device.confirmed
    assert c.post("/login/enrol/", {"code": "000000"}).status_code == 200  # wrong: asked again
    r = c.post("/login/enrol/", {"code": mfa.current_code(device)})
    assert r.status_code == 302 and r["Location"] == "/"
    assert c.get("/").status_code == 200
    assert TotpDevice.objects.get(user=org.leader).confirmed
    assert "mfa_enrolled" in actions("leader")
    # the agent's role does not need a code
    assert web_login(Client(), "agent")["Location"] == "/"


@override_settings(MFA_REQUIRED=True)
def test_a_code_is_asked_after_the_password_and_used_once(org) -> None:
    device = enrolled(org.supervisor)
    c = Client()
    assert web_login(c, "supervisor")["Location"] == "/login/code/"
    code = mfa.current_code(device)
    assert c.post("/login/code/", {"code": code})["Location"] == "/"
    c2 = Client()
    web_login(c2, "supervisor")
    r = c2.post("/login/code/", {"code": code})
    assert r.status_code == 200, "a code that was used does not sign in again"
    assert c2.get("/").status_code == 302


@override_settings(MFA_REQUIRED=True, AXES_FAILURE_LIMIT=3)
def test_wrong_codes_count_towards_the_lockout(org) -> None:
    enrolled(org.auditor)
    c = Client()
    web_login(c, "auditor")
    for _ in range(2):
        assert c.post("/login/code/", {"code": "123456"}).status_code == 200
    assert c.post("/login/code/", {"code": "123456"}).status_code == 429


@override_settings(MFA_REQUIRED=True)
def test_the_api_asks_for_the_code_of_a_user_who_needs_one(org) -> None:
    c = Client()
    r = post_json(c, TOKEN, {"username": "admin", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "mfa_enrolment_required"
    device = enrolled(org.admin)
    r = post_json(c, TOKEN, {"username": "admin", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "otp_required"
    r = post_json(c, TOKEN, {"username": "admin", "password": PASSWORD, "otp": "000000"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_otp"
    r = post_json(c, TOKEN, {"username": "admin", "password": PASSWORD, "otp": mfa.current_code(device)})
    assert r.status_code == 200 and r.json()["token"]


@override_settings(MFA_REQUIRED=True)
def test_a_session_from_before_the_requirement_is_sent_back_to_the_login(org) -> None:
    c = Client()
    c.force_login(org.leader)  # signed in without a code (before MFA was required)
    r = c.get("/cases/")
    assert r.status_code == 302 and r["Location"].startswith("/login/?signed_out=mfa")


def test_anyone_may_enrol_and_remove_an_authenticator_on_their_own(web_client) -> None:
    c, user = web_client("handler_a")
    assert c.get("/account/security/").status_code == 200
    c.post("/account/security/", {"do": "start"})
    device = TotpDevice.objects.get(user=user)
    r = c.post("/account/security/", {"do": "confirm", "code": mfa.current_code(device)})
    assert r.status_code == 302
    assert TotpDevice.objects.get(user=user).confirmed
    assert web_login(Client(), "handler_a")["Location"] == "/login/code/", "asked for the code from now on"
    with time_machine.travel(time.time() + 60, tick=False):
        r = c.post("/account/security/", {"do": "remove", "code": mfa.current_code(device)})
    assert r.status_code == 302 and not TotpDevice.objects.filter(user=user).exists()
    assert {"mfa_enrolled", "mfa_removed"} <= set(actions("handler_a"))


def test_the_authenticator_secret_is_sealed_at_rest(org) -> None:
    from django.db import connection

    device = mfa.enrolment(org.agent)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM org_totpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert device.secret not in stored and stored.startswith("hy1:")


# --- sessions -----------------------------------------------------------------------------------


def test_a_session_ends_after_the_idle_timeout(org) -> None:
    c = Client()
    web_login(c, "agent")
    assert c.get("/cases/").status_code == 200
    with time_machine.travel(time.time() + 29 * 60, tick=False):
        assert c.get("/cases/").status_code == 200  # active: the idle clock starts again
    with time_machine.travel(time.time() + 29 * 60 + 31 * 60, tick=False):
        r = c.get("/cases/")
        assert r.status_code == 302 and "signed_out=idle" in r["Location"]
        assert c.get("/cases/").status_code == 302


def test_a_session_ends_at_its_absolute_lifetime_however_active(org) -> None:
    c = Client()
    web_login(c, "agent")
    start = time.time()
    for minutes in range(20, 12 * 60, 20):
        with time_machine.travel(start + minutes * 60, tick=False):
            assert c.get("/cases/").status_code == 200
    with time_machine.travel(start + 12 * 3600 + 60, tick=False):
        r = c.get("/cases/")
        assert r.status_code == 302 and "signed_out=expired" in r["Location"]


def test_htmx_requests_of_an_ended_session_are_sent_to_the_login(org) -> None:
    c = Client()
    web_login(c, "agent")
    c.get("/cases/")
    with time_machine.travel(time.time() + 3600, tick=False):
        r = c.get("/cases/", headers={"HX-Request": "true"})
    assert r.status_code == 200 and r["HX-Redirect"].startswith("/login/?signed_out=idle")


def test_an_administrator_ends_a_users_sessions_and_tokens(org, api) -> None:
    c = Client()
    web_login(c, "handler_a")
    token = api("handler_a")
    assert c.get("/cases/").status_code == 200 and token.get("/cases").status_code == 200
    out = StringIO()
    call_command("user", "signout", "handler_a", stdout=out)
    assert c.get("/cases/").status_code == 302
    assert token.get("/cases").status_code == 401
    assert "signed_out_everywhere" in actions("handler_a")
    assert web_login(Client(), "handler_a").status_code == 302, "they sign in again with their password"


def test_a_user_signs_out_everywhere_on_their_own(org) -> None:
    a, b = Client(), Client()
    web_login(a, "agent")
    web_login(b, "agent")
    token = token_issue(org.agent)
    assert a.post("/account/signout-everywhere").status_code == 302
    assert b.get("/cases/").status_code == 302
    assert Client().get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- tokens -----------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("how", ["set_password", "command", "admin", "sql"])
def test_a_token_dies_with_any_change_of_the_password(org, how, monkeypatch) -> None:
    token = token_issue(org.dispatcher)
    c = Client()
    assert c.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    user = User.objects.get(username="dispatcher")
    if how == "set_password":
        user.set_password("a-new-password-123")
        user.save()
    elif how == "command":
        import getpass

        monkeypatch.setattr(getpass, "getpass", lambda prompt="": "a-new-password-123")
        call_command("changepassword", "dispatcher", stdout=StringIO())
    elif how == "admin":
        admin = Client()
        admin.force_login(org.admin)
        r = admin.post(f"/admin/org/user/{user.pk}/password/",
                       {"password1": "a-new-password-123", "password2": "a-new-password-123", "usable_password": "true"})
        assert r.status_code == 302, r.content[:500]
    else:
        from django.contrib.auth.hashers import make_password

        User.objects.filter(pk=user.pk).update(password=make_password("a-new-password-123"))
    assert c.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert ApiToken.objects.get(user=user).revoked_at is not None


def test_the_token_check_reads_the_token_user_and_roles_in_one_statement(org) -> None:
    """issue 9: the token, its user and the user's roles in active units come back together,
    and `grants` then reads nothing more — the same grants as a fresh read, in the same order;
    a role in a unit made inactive is not one, and a user without roles has none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huiyin.org.access import grants
    from huiyin.org.models import Unit
    from huiyin.org.tokens import token_check

    other = Unit.objects.exclude(pk__in=org.agent.memberships.values("unit_id")).order_by("id").first()
    assert other is not None
    Membership.objects.create(user=org.agent, unit=other, role="handler")
    token = token_issue(org.agent)
    with CaptureQueriesContext(connection) as q:
        row = token_check(token)
        assert row is not None and row.user.username == "agent"
        given = grants(row.user)
    assert [x["sql"][:6] for x in q.captured_queries] == ["SELECT", "UPDATE"]  # UPDATE: last_used_at, once a minute
    fresh = User.objects.get(pk=org.agent.pk)
    assert [(g.role, g.unit.pk, g.path) for g in given] == [(g.role, g.unit.pk, g.path) for g in grants(fresh)]
    assert len(given) == 2
    Unit.objects.filter(pk=given[1].unit.pk).update(active=False)
    row = token_check(token)
    assert row is not None and [g.role for g in grants(row.user)] == [given[0].role]
    Membership.objects.filter(user=org.agent).delete()
    row = token_check(token)
    assert row is not None and grants(row.user) == ()
    assert token_check(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_a_token_dies_when_the_account_is_disabled(org) -> None:
    token = token_issue(org.agent)
    out = StringIO()
    call_command("user", "disable", "agent", stdout=out)
    assert Client().get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert web_login(Client(), "agent").status_code == 200  # the form again: no sign-in
    assert "user_flags_changed" in actions("agent")


def test_the_caller_revokes_their_own_token(org) -> None:
    token = token_issue(org.agent)
    other = token_issue(org.agent)
    c = Client()
    r = c.delete(TOKEN, headers=bearer(token))
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert c.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert c.delete(TOKEN, headers=bearer(token)).status_code == 401
    assert c.get("/api/v1/cases", headers=bearer(other)).status_code == 200, "only that token"
    assert "token_revoked" in actions("agent")


def test_administrators_list_and_revoke_tokens_others_see_their_own(org) -> None:
    mine = token_issue(org.handler_b, name="cti")
    admin = token_issue(org.admin)
    c = Client()
    listed = c.get("/api/v1/auth/tokens", headers=bearer(admin)).json()["items"]
    row = next(t for t in listed if t["user"] == "handler_b")
    assert row["name"] == "cti" and row["active"] is True and "digest" not in row
    own = c.get("/api/v1/auth/tokens", headers=bearer(mine)).json()["items"]
    assert {t["user"] for t in own} == {"handler_b"}
    # handler_b cannot revoke the admin's token; it is not even there for them
    admin_row = ApiToken.objects.get(user=org.admin)
    assert c.delete(f"/api/v1/auth/tokens/{admin_row.pk}", headers=bearer(mine)).status_code == 404
    r = c.delete(f"/api/v1/auth/tokens/{row['id']}", headers=bearer(admin))
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert c.get("/api/v1/cases", headers=bearer(mine)).status_code == 401
    assert c.get("/api/v1/auth/tokens", headers=bearer(admin), data={"user": "handler_b", "active": "false"}).json()[
        "items"][0]["revoked_reason"] == "admin"


def test_last_used_at_is_kept_without_a_write_per_request(org, django_assert_num_queries) -> None:
    token = token_issue(org.agent)
    c = Client()
    c.get("/api/v1/categories", headers=bearer(token))
    first = ApiToken.objects.get(user=org.agent).last_used_at
    assert first is not None
    c.get("/api/v1/categories", headers=bearer(token))
    assert ApiToken.objects.get(user=org.agent).last_used_at == first  # within a minute: not written again


# --- accounts without code ----------------------------------------------------------------------


def test_user_add_and_disable_from_the_command_line(org) -> None:
    out = StringIO()
    call_command("user", "add", "wang", "--unit", "county_b", "--role", "handler", "--password", "Str0ng-enough-pw",
                 stdout=out)
    user = User.objects.get(username="wang")
    assert Membership.objects.filter(user=user, unit__code="county_b", role="handler").exists()
    assert Client().login(username="wang", password="Str0ng-enough-pw")
    out = StringIO()
    call_command("user", "add", "li", "--unit", "centre", "--role", "agent", stdout=out)
    shown = out.getvalue().split("password (shown once): ")[1].strip()
    assert Client().login(username="li", password=shown)
    call_command("user", "add", "li", "--unit", "county_a", "--role", "handler", stdout=StringIO())
    assert User.objects.get(username="li").memberships.count() == 2
    call_command("user", "disable", "wang", stdout=StringIO())
    assert not User.objects.get(username="wang").is_active
    assert not Client().login(username="wang", password="Str0ng-enough-pw")
    assert actions("wang")[:2] == ["user_created", "role_granted"]
    assert "user_flags_changed" in actions("wang")


@pytest.mark.parametrize("args, message", [
    (["x", "--unit", "nowhere", "--role", "agent"], "Unknown unit"),
    (["x", "--unit", "centre", "--role", "agent", "--password", "123"], "10"),
    (["agent", "--unit", "centre", "--role", "agent"], "already holds"),
])
def test_user_add_refuses_what_it_cannot_do(org, args, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("user", "add", *args, stdout=StringIO())


def test_the_admin_pages_disable_users_and_revoke_tokens_audited(org) -> None:
    admin = Client()
    admin.force_login(org.admin)
    token = token_issue(org.handler_a)
    r = admin.post("/admin/org/user/", {"action": "disable", "_selected_action": [org.handler_a.pk]})
    assert r.status_code == 302
    assert not User.objects.get(pk=org.handler_a.pk).is_active
    assert Client().get("/api/v1/cases", headers=bearer(token)).status_code == 401
    # a role granted in the admin's user page is a permission change: audited with who did it
    user = org.handler_b
    data = {"username": user.username, "display_name": user.display_name, "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1", "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000"}
    existing = Membership.objects.filter(user=user).order_by("id")
    data.update({"memberships-0-id": existing[0].pk, "memberships-0-user": user.pk,
                 "memberships-0-unit": existing[0].unit_id, "memberships-0-role": existing[0].role,
                 "memberships-1-user": user.pk, "memberships-1-unit": org.leader.memberships.first().unit_id,
                 "memberships-1-role": "leader"})
    r = admin.post(f"/admin/org/user/{user.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Membership.objects.filter(user=user, role="leader").exists()
    entry = AuditEntry.objects.filter(action="admin_change", target=f"org.user:{user.pk}").last()
    assert entry is not None and entry.actor_name == "admin" and "岗位" in entry.details["change"]


def test_the_audit_log_cannot_be_changed_on_postgresql(org) -> None:
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    from huiyin.conftest import is_postgres

    if not is_postgres():
        pytest.skip("the append-only trigger is PostgreSQL's")
    web_login(Client(), "agent")
    entry = AuditEntry.objects.last()
    for statement in ("UPDATE org_auditentry SET action = 'nothing' WHERE id = %s",
                      "DELETE FROM org_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk, action="login").exists()


def test_sessions_are_stored_server_side_and_a_logout_ends_them(org) -> None:
    c = Client()
    web_login(c, "agent")
    key = c.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    c.post("/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    assert "logout" in actions("agent")
