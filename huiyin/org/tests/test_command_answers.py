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
