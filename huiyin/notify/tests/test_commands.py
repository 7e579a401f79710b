"""huiyin webhook add/list/remove, huiyin outbox stats, and the admin pages."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from huiyin.notify.models import Message, Status, Webhook
from huiyin.notify.services import enqueue

from .conftest import configure


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_webhook_add_list_remove(db: Any) -> None:
    out = run("webhook", "add", "https://crm.example.test/hooks", "--secret", "s3cret",
              "--events", "case.closed,case.dispatched")
    hook = Webhook.objects.get()
    assert f"webhook {hook.pk} added" in out
    assert hook.events == ["case.dispatched", "case.closed"] and hook.secret == "s3cret"
    run("webhook", "add", "http://in.example.test:8080/in", "--secret", "s3cret")  # issue 11: public addresses only
    listing = run("webhook", "list")
    assert "https://crm.example.test/hooks\tcase.dispatched,case.closed" in listing
    assert "http://in.example.test:8080/in\t*" in listing
    run("webhook", "remove", str(hook.pk))
    assert not Webhook.objects.filter(pk=hook.pk).exists()


@pytest.mark.parametrize(("args", "error"), [
    (["ftp://example.test/x", "--secret", "s"], "Not an http(s) URL"),
    (["https://example.test/x", "--secret", "s", "--events", "case.closed,case.exploded"],
     "Unknown event(s): case.exploded"),
    (["https://example.test/x", "--secret", " "], "needs a secret"),
])
def test_webhook_add_refuses_bad_input(db: Any, args: list[str], error: str) -> None:
    with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
        run("webhook", "add", *args)
    assert not Webhook.objects.exists()


def test_webhook_remove_an_unknown_id(db: Any) -> None:
    with pytest.raises(CommandError, match="No webhook with id 42"):
        run("webhook", "remove", "42")


def test_outbox_stats_and_retry_arguments(db: Any) -> None:
    configure("email", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s")
    enqueue("case.closed", case_number="N", context={}, recipients=[], dedupe="c")
    assert "pending  1" in run("outbox", "stats")
    with pytest.raises(CommandError, match="ids or --all-dead"):
        run("outbox", "retry")
    with pytest.raises(CommandError, match="not failed or dead"):
        run("outbox", "retry", str(Message.objects.get().pk))


def test_the_admin_lists_dead_letters_and_retries_them(admin_client: Any) -> None:
    configure("email", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s")
    enqueue("case.closed", case_number="N", context={}, recipients=[], dedupe="c")
    Message.objects.update(status=Status.DEAD, last_error="HTTP 410")
    msg = Message.objects.get()
    r = admin_client.get("/admin/notify/message/", {"status__exact": "dead"})
    assert r.status_code == 200 and "HTTP 410" in r.content.decode()
    r = admin_client.post("/admin/notify/message/", {"action": "retry_messages", "_selected_action": [msg.pk]})
    assert r.status_code == 302
    assert Message.objects.get().status == Status.PENDING
    for page in ("template", "webhook", "attempt", "preference", "transportconfig", "notifysettings", "inboxitem"):
        assert admin_client.get(f"/admin/notify/{page}/").status_code == 200, page
    assert admin_client.get(f"/admin/notify/message/{msg.pk}/change/").status_code == 200


def test_the_admin_finds_messages_by_whole_values_only(admin_client: Any) -> None:
    configure("email", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s")
    enqueue("case.closed", case_number="TB20261203-000042", context={}, recipients=[], dedupe="c")
    msg = Message.objects.get()

    def found(page: str, q: str) -> bool:
        r = admin_client.get(f"/admin/notify/{page}/", {"q": q})
        assert r.status_code == 200, (page, q)
        return f"/admin/notify/{page}/{msg.pk if page == 'message' else msg.notice_id}/change/" in r.content.decode()

    assert found("message", "TB20261203-000042") and found("message", str(msg.delivery_id))
    assert not found("message", "000042")  # a part would read every row of the outbox
    assert found("notice", "TB20261203-000042") and not found("notice", "TB2026")
    for q in ("not-a-uuid", "%", "'; --"):
        assert not found("message", q)
    assert admin_client.get("/admin/notify/message/", {"q": "\x00"}).status_code == 400  # refused, not a 500


def test_default_templates_are_installed_once_and_edits_are_kept(db: Any) -> None:
    from django.core.exceptions import ValidationError

    from huiyin.notify.defaults import install_default_templates
    from huiyin.notify.models import Event, Template, TemplateTransport

    assert Template.objects.count() == len(Event.values) * len(TemplateTransport.values)
    Template.objects.filter(event="case.closed", transport="sms").update(body="已办结 {{ case_number }}")
    Template.objects.filter(event="case.urged", transport="email").delete()
    assert install_default_templates() == 1
    assert Template.objects.get(event="case.closed", transport="sms").body == "已办结 {{ case_number }}"
    broken = Template(event="case.closed", transport="inbox", subject="{{ x|no_such_filter }}", body="{% for %}")
    with pytest.raises(ValidationError) as err:
        broken.clean()
    assert set(err.value.message_dict) == {"subject", "body"}


def test_outbox_purge_deletes_old_sent_messages_only(db: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    configure("email", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s")
    for n in range(3):
        enqueue("case.closed", case_number=f"N{n}", context={}, recipients=[], dedupe=f"c{n}")
    old = timezone.now() - timedelta(days=100)
    Message.objects.update(created_at=old)
    Message.objects.filter(case_number__in=["N0", "N1"]).update(status=Status.SENT)
    Message.objects.filter(case_number="N2").update(status=Status.DEAD)
    assert "deleted 2 sent message(s)" in run("outbox", "purge", "--days", "90")
    assert list(Message.objects.values_list("case_number", flat=True)) == ["N2"]
