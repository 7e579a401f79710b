"""Texts are rendered when a message is delivered or an inbox item is read, never when the
event is queued: enqueue stores the context once, in a notice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from huiyin.notify.delivery import deliver_batch
from huiyin.notify.models import (
    Event,
    InboxItem,
    Message,
    Notice,
    Status,
    Template,
    Transport,
    Webhook,
)
from huiyin.notify.services import Occurrence, enqueue, enqueue_many, fan_out_pending

from .conftest import People, configure

CTX = {"subject": "配送延误,卷烟未按时到货", "unit": "县局A", "deadline": "2026-02-15 17:30"}


def dispatch(people: People, dedupe: str = "d1") -> int:
    return enqueue("case.dispatched", case_number="HY20260213-000001", context=CTX, dedupe=dedupe,
                   recipients=[people.alice.pk, people.bob.pk])


def test_the_context_is_stored_once_and_no_row_holds_a_rendered_text(people: People, sms_file: Path) -> None:
    assert dispatch(people) == 3
    notice = Notice.objects.get()
    assert notice.event == "case.dispatched" and notice.case_number == "HY20260213-000001"
    assert notice.context["unit"] == "县局A" and notice.context["recipients"] == "Alice、Bob"
    assert notice.context["event_label"] == "工单派发"
    # the outbox rows and inbox items point at the notice; none carries a text or a copy of the context
    rows = list(Message.objects.values_list("notice_id", "subject", "body", "extra"))
    assert rows == [(notice.pk, "", "", {})] * 3
    assert list(InboxItem.objects.values_list("notice_id", "title", "body")) == [(notice.pk, "", "")] * 2


def test_a_template_edited_after_enqueue_is_what_the_message_and_the_inbox_show(
    people: People, sms_file: Path
) -> None:
    dispatch(people)
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="email").update(
        subject="新模板 {{ case_number }}", body="{{ recipient }}：{{ unit }}的工单《{{ subject }}》请签收")
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="inbox").update(
        subject="站内 {{ case_number }}", body="{{ recipient }} 请处理")
    assert deliver_batch("w") == 3
    email = Message.objects.get(recipient=people.alice, transport=Transport.EMAIL)
    assert email.status == Status.SENT
    assert email.subject == "新模板 HY20260213-000001"
    assert email.body == "Alice：县局A的工单《配送延误,卷烟未按时到货》请签收"
    sent = [m for m in mail.outbox if m.to == ["alice@example.test"]]
    assert [m.subject for m in sent] == ["新模板 HY20260213-000001"]
    item = InboxItem.objects.get(user=people.bob)
    assert (item.title, item.body) == ("站内 HY20260213-000001", "Bob 请处理")


def test_a_retry_sends_the_text_of_the_first_attempt(people: People) -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    configure("wecom", url="http://127.0.0.1:9/cgi-bin/webhook/send?key=k")  # nothing listens: retried
    dispatch(people)
    deliver_batch("w")
    robot = Message.objects.get()
    assert robot.status == Status.FAILED and robot.body.startswith("【工单派发】工单 HY20260213-000001")
    first = robot.body
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="robot").update(body="改过的模板")
    deliver_batch("w", now=timezone.now() + timedelta(minutes=5))
    robot.refresh_from_db()
    assert robot.attempts == 2 and robot.body == first


def test_a_broken_inbox_template_falls_back_when_read_and_is_reported_once(
    people: People, django_assert_max_num_queries: Any
) -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    dispatch(people)
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="inbox").update(body="{{ 1|divisibleby:0 }}")
    item = InboxItem.objects.get(user=people.alice)
    assert item.title == "工单派发：HY20260213-000001" and "请及时签收" in item.body  # the default text
    broken = Template.objects.get(event=Event.CASE_DISPATCHED, transport="inbox")
    assert "ZeroDivisionError" in broken.last_error and broken.last_error_at is not None
    with django_assert_max_num_queries(2):  # the items and the templates: no second report
        assert len(list(InboxItem.objects.all())) == 2


def test_enqueue_many_writes_one_notice_per_occurrence_and_leaves_the_rest_to_the_worker(
    people: People, sms_file: Path
) -> None:
    occurrences = [Occurrence("case.breached", f"N{i}", {"note": "resolve"}, (people.alice.pk, people.carol.pk),
                              f"b{i}", True) for i in range(3)]
    assert enqueue_many(occurrences + occurrences[:1]) == 3  # a repeat within the call counts once
    assert Notice.objects.count() == 3 and all(n.urgent for n in Notice.objects.all())
    assert list(Notice.objects.values_list("recipients", flat=True)) == [[people.alice.pk]] * 3  # carol is inactive
    assert not InboxItem.objects.exists() and not Message.objects.exists()
    assert fan_out_pending(limit=2) == 2 and fan_out_pending() == 1 and fan_out_pending() == 0
    assert InboxItem.objects.filter(user=people.alice).count() == 3
    assert sorted(Message.objects.values_list("transport", flat=True)) == ["email"] * 3 + ["sms"] * 3
    assert enqueue_many(occurrences) == 0  # repeats write nothing
    assert deliver_batch("w") == 6


def test_nobody_to_tell_writes_nothing(people: People) -> None:
    assert enqueue("case.created", case_number="N", context={}, recipients=[], dedupe="c") == 0
    assert enqueue("case.created", case_number="N", context={}, recipients=[people.carol.pk], dedupe="c2") == 0
    assert not Notice.objects.exists()
    Webhook.objects.create(url="http://127.0.0.1:9/all", secret="s" * 20, events=["case.created"])
    assert enqueue("case.created", case_number="N", context={}, recipients=[], dedupe="c") == 1
    assert Notice.objects.count() == 1


@pytest.mark.parametrize("value", [timezone.now(), Path("/x"), 3.5])
def test_the_context_is_kept_as_plain_data(people: People, value: Any) -> None:
    enqueue("case.closed", case_number="N", context={"when": value}, recipients=[people.alice.pk], dedupe="c")
    stored = Notice.objects.get().context["when"]
    assert isinstance(stored, (str, float))


def test_the_admin_shows_inbox_items_rendered_and_the_notices(admin_client: Any, people: People) -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    dispatch(people)
    page = admin_client.get("/admin/notify/inboxitem/").content.decode()
    assert "工单派发：HY20260213-000001" in page
    notice = Notice.objects.get()
    assert admin_client.get("/admin/notify/notice/").status_code == 200
    assert admin_client.get(f"/admin/notify/notice/{notice.pk}/change/").status_code == 200


def test_purge_keeps_the_notices_that_inbox_items_render_from(people: People) -> None:
    from django.core.management import call_command

    configure("email", enabled=False)
    configure("sms", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s" * 20)
    enqueue("case.closed", case_number="N1", context={}, recipients=[], dedupe="gone")
    dispatch(people)  # inbox items and a webhook message
    old = timezone.now() - timedelta(days=100)
    Notice.objects.update(created_at=old)
    Message.objects.update(created_at=old, status=Status.SENT)
    call_command("outbox", "purge", "--days", "90")
    assert list(Notice.objects.values_list("dedupe_key", flat=True)) == ["d1"]
    assert InboxItem.objects.get(user=people.alice).title == "工单派发：HY20260213-000001"
