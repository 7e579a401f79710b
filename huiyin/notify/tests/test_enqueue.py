"""enqueue: rows written in the caller's transaction — one notice per occurrence, one inbox item
per recipient, one outbox message per recipient and transport — and the texts rendered from the
notice when a message is delivered or an inbox item is read."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from huiyin.notify.delivery import deliver_batch
from huiyin.notify.models import (
    Event,
    InboxItem,
    Message,
    NotifySettings,
    Preference,
    Status,
    Template,
    Transport,
    Webhook,
)
from huiyin.notify.services import NotifyError, enqueue

from .conftest import People, configure

SH = ZoneInfo("Asia/Shanghai")
CTX = {"subject": "配送延误,卷烟未按时到货", "unit": "县局A", "deadline": "2026-02-15 17:30"}


def dispatch(people: People, dedupe: str = "d1", **kw: Any) -> int:
    args: dict[str, Any] = {
        "case_number": "HY20260213-000001", "context": CTX, "dedupe": dedupe,
        "recipients": [people.alice.pk, people.bob.pk, people.carol.pk],
    }
    args.update(kw)
    return enqueue("case.dispatched", **args)


def test_it_writes_one_inbox_item_per_active_recipient_and_one_message_per_transport(
    people: People, sms_file: Path
) -> None:
    assert dispatch(people) == 3
    assert sorted(InboxItem.objects.values_list("user__username", flat=True)) == ["alice", "bob"]
    rows = sorted(Message.objects.values_list("recipient__username", "transport", "address"))
    assert rows == [
        ("alice", "email", "alice@example.test"),
        ("alice", "sms", "13800138000"),
        ("bob", "email", "bob@example.test"),
    ]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_it_renders_the_chinese_default_texts_with_the_context(people: People, sms_file: Path) -> None:
    dispatch(people)
    item = InboxItem.objects.get(user=people.alice)
    assert item.title == "工单派发：HY20260213-000001"
    assert "请及时签收" in item.body and "主题：配送延误,卷烟未按时到货" in item.body
    deliver_batch("w")  # messages are rendered when they are delivered
    email = Message.objects.get(recipient=people.alice, transport=Transport.EMAIL)
    assert email.subject == "【回音】工单派发 HY20260213-000001"
    assert email.body.startswith("Alice，您好：")
    assert "办理时限：2026-02-15 17:30" in email.body
    sms = Message.objects.get(transport=Transport.SMS)
    assert sms.body == "工单HY20260213-000001已派发给您的单位，请及时签收办理，时限2026-02-15 17:30。"
    assert sms.payload["context"]["case_number"] == "HY20260213-000001"


def test_repeating_an_occurrence_writes_nothing_new(people: People, sms_file: Path) -> None:
    assert dispatch(people) == 3
    assert dispatch(people) == 0
    assert Message.objects.count() == 3 and InboxItem.objects.count() == 2
    assert dispatch(people, dedupe="d2") == 3  # another occurrence of the same event


def test_it_follows_preferences_and_skips_missing_addresses(people: People, sms_file: Path) -> None:
    Preference.objects.create(user=people.alice, transport=Transport.SMS, enabled=False)
    Preference.objects.create(user=people.bob, transport=Transport.EMAIL, address="bob@work.test")
    Preference.objects.create(user=people.bob, transport=Transport.SMS, address="13700137000")
    dispatch(people)
    assert sorted(Message.objects.values_list("recipient__username", "transport", "address")) == [
        ("alice", "email", "alice@example.test"),
        ("bob", "email", "bob@work.test"),
        ("bob", "sms", "13700137000"),
    ]


def test_transports_turned_off_by_the_organisation_get_no_messages(people: People) -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    assert dispatch(people) == 0
    assert InboxItem.objects.count() == 2  # the inbox is always on


def test_a_rolled_back_caller_leaves_no_notification(people: People, sms_file: Path) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch(people)
        assert Message.objects.count() == 3
        raise RuntimeError("the state change failed")
    assert Message.objects.count() == 0
    assert InboxItem.objects.count() == 0


def test_it_refuses_unknown_events_and_missing_dedupe_keys(people: People) -> None:
    with pytest.raises(NotifyError):
        enqueue("case.exploded", case_number="X", context={}, recipients=[people.alice.pk], dedupe="x")
    with pytest.raises(NotifyError):
        enqueue("case.closed", case_number="X", context={}, recipients=[people.alice.pk], dedupe="")


def test_a_broken_template_falls_back_to_the_default_and_is_reported(people: People, sms_file: Path) -> None:
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="email").update(
        body="{% if %}坏模板", subject="{{ case_number"
    )
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="sms").update(
        body="工单{{ case_number }}{{ 7|divisibleby:0 }}"  # fails while rendering, not parsing
    )
    assert dispatch(people) == 3
    deliver_batch("w")
    email = Message.objects.get(recipient=people.alice, transport=Transport.EMAIL)
    assert email.subject == "【回音】工单派发 HY20260213-000001"
    assert "请及时签收" in email.body
    assert "TemplateSyntaxError" in email.render_error
    sms = Message.objects.get(transport=Transport.SMS)
    assert sms.body.startswith("工单HY20260213-000001已派发")
    assert "ZeroDivisionError" in sms.render_error
    broken = Template.objects.filter(event=Event.CASE_DISPATCHED).exclude(last_error="")
    assert sorted(broken.values_list("transport", flat=True)) == ["email", "sms"]
    assert all(t.last_error_at is not None for t in broken)


def test_an_edited_template_is_used(people: People, sms_file: Path) -> None:
    Template.objects.filter(event=Event.CASE_DISPATCHED, transport="inbox").update(
        subject="请处理 {{ case_number }}", body="{{ recipient }}: {{ unit }} <b>{{ subject }}</b>"
    )
    dispatch(people)
    item = InboxItem.objects.get(user=people.bob)
    assert item.title == "请处理 HY20260213-000001"
    assert item.body == "Bob: 县局A <b>配送延误,卷烟未按时到货</b>"  # plain text: nothing escaped


def test_webhooks_get_the_events_they_subscribed_to(people: People) -> None:
    everything = Webhook.objects.create(url="http://127.0.0.1:9/all", secret="s" * 20)
    closing = Webhook.objects.create(url="http://127.0.0.1:9/closed", secret="s" * 20, events=["case.closed"])
    Webhook.objects.create(url="http://127.0.0.1:9/off", secret="s" * 20, active=False)
    configure("email", enabled=False)
    configure("sms", enabled=False)
    assert dispatch(people) == 1
    assert enqueue("case.closed", case_number="N1", context={}, recipients=[], dedupe="c1") == 2
    assert sorted(Message.objects.filter(event="case.closed").values_list("address", flat=True)) == sorted(
        [str(everything.pk), str(closing.pk)]
    )


def test_a_group_robot_hears_of_an_event_once_mentioning_the_recipients(people: People) -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    configure("dingtalk", url="http://127.0.0.1:9/robot/send?access_token=t")
    configure("wecom", url="http://127.0.0.1:9/cgi-bin/webhook/send?key=k", events=["case.breached"])
    assert dispatch(people) == 1
    deliver_batch("w")  # nothing listens on port 9: the attempt fails, with the text rendered
    robot = Message.objects.get()
    assert robot.transport == Transport.DINGTALK and robot.recipient is None
    assert robot.payload["mentions"] == ["13800138000"]
    assert "请 Alice、Bob 处理" in robot.body


def test_enqueue_runs_a_bounded_number_of_queries(people: People, sms_file: Path,
                                                  django_assert_max_num_queries: Any) -> None:
    Webhook.objects.create(url="http://127.0.0.1:9/all", secret="s" * 20)
    with django_assert_max_num_queries(10):
        dispatch(people)


@pytest.fixture
def quiet_nights(db: Any) -> NotifySettings:
    row = NotifySettings(quiet_hours_enabled=True, quiet_start=time(22, 0), quiet_end=time(8, 0))
    row.save()
    return row


def test_quiet_hours_hold_sms_and_robots_but_not_email_or_the_inbox(
    people: People, sms_file: Path, quiet_nights: NotifySettings
) -> None:
    configure("wecom", url="http://127.0.0.1:9/cgi-bin/webhook/send?key=k")
    with time_machine.travel(datetime(2026, 2, 13, 23, 30, tzinfo=SH), tick=False):
        dispatch(people)
        enqueue("case.major_opened", case_number="HY2", context={}, recipients=[people.alice.pk],
                dedupe="m1", urgent=True)
    morning = datetime(2026, 2, 14, 8, 0, tzinfo=SH)
    held = Message.objects.filter(event="case.dispatched", transport__in=["sms", "wecom"])
    assert held.count() == 2 and all(m.next_attempt_at == morning for m in held)
    email = Message.objects.filter(event="case.dispatched", transport="email")
    assert all(m.next_attempt_at < morning for m in email)
    urgent = Message.objects.filter(event="case.major_opened")
    assert urgent.count() == 3 and all(m.next_attempt_at < morning for m in urgent)

    # At 23:31 the worker sends the urgent SMS but not the held one.
    deliver_batch("w", now=datetime(2026, 2, 13, 23, 31, tzinfo=SH))
    assert Message.objects.get(event="case.major_opened", transport="sms").status == Status.SENT
    assert Message.objects.get(event="case.dispatched", transport="sms").status == Status.PENDING
    deliver_batch("w", now=morning)
    assert Message.objects.get(event="case.dispatched", transport="sms").status == Status.SENT


def test_quiet_hours_within_one_day_and_outside_them(quiet_nights: NotifySettings) -> None:
    quiet_nights.quiet_start, quiet_nights.quiet_end = time(12, 0), time(13, 30)
    assert quiet_nights.quiet_until(datetime(2026, 2, 13, 12, 10, tzinfo=SH)) == datetime(
        2026, 2, 13, 13, 30, tzinfo=SH)
    assert quiet_nights.quiet_until(datetime(2026, 2, 13, 13, 30, tzinfo=SH)) is None
    assert quiet_nights.quiet_until(datetime(2026, 2, 13, 11, 59, tzinfo=SH)) is None
    quiet_nights.quiet_start, quiet_nights.quiet_end = time(22, 0), time(8, 0)
    assert quiet_nights.quiet_until(datetime(2026, 2, 14, 7, 0, tzinfo=SH)) == datetime(
        2026, 2, 14, 8, 0, tzinfo=SH)
    quiet_nights.quiet_hours_enabled = False
    assert quiet_nights.quiet_until(datetime(2026, 2, 14, 7, 0, tzinfo=SH)) is None
