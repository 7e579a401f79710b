"""What `huiyin user` tells the operator: an unknown user name is an error that changes nothing;
mfa-reset says that it ended the user's sessions too."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from huiyin.org.models import AuditEntry, User
from huiyin.org.tests.test_accounts import web_login

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["unlock", "disable", "signout", "mfa-reset"])
def test_an_unknown_user_is_an_error_that_changes_nothing(org, action) -> None:
    audited = AuditEntry.objects.count()
    users = list(User.objects.order_by("pk").values_list("username", "is_active", "session_epoch"))
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("user", action, "nobody", stdout=out)
    assert str(raised.value) == "No user 'nobody'."
    assert out.getvalue() == ""
    assert AuditEntry.objects.count() == audited
    assert list(User.objects.order_by("pk").values_list("username", "is_active", "session_epoch")) == users


def test_mfa_reset_says_that_the_sessions_ended(org) -> None:
    c = Client()
    web_login(c, "handler_a")
    assert c.get("/cases/").status_code == 200
    out = StringIO()
    call_command("user", "mfa-reset", "handler_a", stdout=out)
    assert out.getvalue() == "handler_a: authenticator app none to remove; every session and API token ended\n"
    assert c.get("/cases/").status_code == 302


@pytest.mark.parametrize("address", ["not-an-ip", "999.1.1.1", "10.0.0.1; rm -rf /"])
def test_unlocking_an_address_that_is_not_one_is_an_error_that_changes_nothing(org, address) -> None:
    audited = AuditEntry.objects.count()
    out = StringIO()
    with pytest.raises(CommandError, match="does not appear to be an IPv4 or IPv6 address"):
        call_command("user", "unlock", "--address", address, stdout=out)
    assert out.getvalue() == "" and AuditEntry.objects.count() == audited


def test_unlocking_an_address_names_it_as_written_canonically(org) -> None:
    out = StringIO()
    call_command("user", "unlock", "--address", " 2001:DB8::1 ", stdout=out)
    assert out.getvalue().startswith("address 2001:db8::1 unlocked")
    assert AuditEntry.objects.filter(action="unlock", target="2001:db8::1").exists()
