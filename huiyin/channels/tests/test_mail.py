"""E-mail intake against a real Dovecot: each new message a case with its attachments, replies
threaded by the case number in the subject, auto-replies, bounces and loops ignored, nothing
flagged before the case committed, an unparseable message kept and reported."""

from __future__ import annotations

from datetime import UTC
from email.message import EmailMessage
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from huiyin.cases.models import Attachment, Case, Event
from huiyin.channels import mail
from huiyin.channels.models import InboundMessage, Mailbox
from huiyin.org.models import Unit

from .imap import PASSWORD, USER, dovecot  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def message(subject: str = "卷烟配送延误", body: str = "本周的卷烟延误三天送达，请处理。", *,
            sender: str = "王先生 <wang@example.com>", headers: dict[str, str] | None = None,
            files: list[tuple[str, bytes, str]] | None = None, message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = USER
    msg["Subject"] = subject
    msg["Date"] = "Fri, 13 Feb 2026 09:00:00 +0800"
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, body, sender)))}@example.com>"
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    for name, data, ctype in files or []:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


@pytest.fixture
def mailbox(org: Any, dovecot: Any) -> Mailbox:  # noqa: F811
    return Mailbox.objects.create(name="投诉邮箱", host="127.0.0.1", port=dovecot.port, ssl=False, username=USER,
                                  password=PASSWORD, unit=Unit.objects.get(code="centre"))


def test_a_new_message_becomes_a_case_with_its_attachments(mailbox, dovecot) -> None:  # noqa: F811
    dovecot.deliver(message(files=[("送货单.png", PNG, "image/png"), ("病毒.exe", b"MZ\x90\x00" * 20, "application/octet-stream")]))
    assert mail.poll_mailbox(mailbox) == 1
    case = Case.objects.get(channel="email")
    assert case.subject == "卷烟配送延误" and "延误三天" in case.description
    assert case.complainant_name == "王先生" and case.complainant_email == "wang@example.com"
    assert case.notify_via == "email" and case.registered_by.username == f"mailbox-{mailbox.pk}"
    assert [a.name for a in Attachment.objects.filter(case=case)] == ["送货单.png"]  # names are sealed
    row = InboundMessage.objects.get(case=case)
    assert row.state == "case" and "病毒.exe" in row.reason
    assert "$HuiyinDone" in dovecot.flags()[0] and "\\Seen" in dovecot.flags()[0]
    assert mail.poll_mailbox(mailbox) == 0  # read once


def test_a_reply_is_threaded_onto_its_case_by_the_number_in_the_subject(mailbox, dovecot) -> None:  # noqa: F811
    dovecot.deliver(message())
    mail.poll_mailbox(mailbox)
    case = Case.objects.get(channel="email")
    dovecot.deliver(message(f"Re: 关于您的投诉 {case.number}", "补充：送货员电话打不通。", message_id="<r1@example.com>"))
    # the same number from someone else is a new case, not a reply into a stranger's case
    dovecot.deliver(message(f"Re: {case.number}", "我也有问题", sender="other@example.com", message_id="<r2@x>"))
    assert mail.poll_mailbox(mailbox) == 2
    assert Case.objects.filter(channel="email").count() == 2
    info = Event.objects.get(case=case, action="information")
    assert "送货员电话打不通" in info.changes["information"][1] and info.source == "email"
    assert InboundMessage.objects.get(message_id="<r1@example.com>").state == "threaded"


@pytest.mark.parametrize("headers,subject,sender", [
    ({"Auto-Submitted": "auto-replied"}, "Re: 您好", "wang@example.com"),
    ({}, "自动回复：我正在休假", "wang@example.com"),
    ({"Precedence": "bulk"}, "促销", "shop@example.com"),
    ({}, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@example.com"),
    ({"X-Huiyin-Delivery": "6f1c"}, "【回音】工单派发", "huiyin@localhost"),
    ({}, "转发", USER),
])
def test_auto_replies_bounces_and_loops_are_ignored(mailbox, dovecot, headers, subject, sender) -> None:  # noqa: F811
    dovecot.deliver(message(subject, sender=sender, headers=headers))
    assert mail.poll_mailbox(mailbox) == 1
    assert not Case.objects.exists()
    assert InboundMessage.objects.get().state == "ignored"
    assert "$HuiyinDone" in dovecot.flags()[0]


def test_an_unparseable_message_is_kept_and_reported(mailbox, dovecot) -> None:  # noqa: F811
    raw = b"Subject: no sender here\r\nMessage-ID: <broken@x>\r\n\r\nbody"
    dovecot.deliver(raw)
    assert mail.poll_mailbox(mailbox) == 1
    row = InboundMessage.objects.get()
    assert row.state == "failed" and "From" in row.reason and bytes(row.raw).startswith(b"Subject: no sender")
    assert not Case.objects.exists()
    # listed for a person, with the time it came in as the pages show it (Beijing time)
    listed = call_command("poll_mailboxes", "--failed", stdout=StringIO())
    local = f"{timezone.localtime(row.received_at):%Y-%m-%d %H:%M}"
    assert listed.split("\t")[:3] == [str(row.pk), mailbox.name, local]
    assert local != f"{row.received_at.astimezone(UTC):%Y-%m-%d %H:%M}"


def test_nothing_is_flagged_before_the_case_commits(mailbox, dovecot) -> None:  # noqa: F811
    dovecot.deliver(message())
    with (mock.patch("huiyin.cases.services.next_case_number", side_effect=RuntimeError("database went away")),
          pytest.raises(RuntimeError)):
        mail.poll_mailbox(mailbox)
    assert not Case.objects.exists() and not InboundMessage.objects.exists()
    assert "$HuiyinDone" not in dovecot.flags()[0] and "\\Seen" not in dovecot.flags()[0]
    assert mail.poll_mailbox(mailbox) == 1  # the next poll takes it
    assert Case.objects.count() == 1


def test_a_message_read_again_after_a_crash_is_not_registered_twice(mailbox, dovecot) -> None:  # noqa: F811
    dovecot.deliver(message())
    with mock.patch.object(mail.imaplib.IMAP4, "uid", autospec=True,
                           side_effect=_fail_on_store(mail.imaplib.IMAP4.uid)), pytest.raises(OSError):
        mail.poll_mailbox(mailbox)  # committed, then died before flagging
    assert Case.objects.count() == 1
    assert mail.poll_mailbox(mailbox) == 1  # read again: only flagged
    assert Case.objects.count() == 1 and "$HuiyinDone" in dovecot.flags()[0]


def _fail_on_store(real: Any) -> Any:
    def uid(self: Any, command: str, *args: Any) -> Any:
        if command == "STORE":
            raise OSError("connection reset")
        return real(self, command, *args)
    return uid


def test_the_worker_polls_due_mailboxes_once(mailbox, dovecot, settings) -> None:  # noqa: F811
    from huiyin.cases.jobs import run_pass

    dovecot.deliver(message())
    done = run_pass()
    assert done["poll_mailboxes"] == 1 and Case.objects.count() == 1
    dovecot.deliver(message("第二封", message_id="<2@x>"))
    assert run_pass()["poll_mailboxes"] == 0  # polled a moment ago: waits MAIL_POLL_SECONDS
    settings.MAIL_POLL_SECONDS = 0
    assert run_pass()["poll_mailboxes"] == 1
    Mailbox.objects.filter(pk=mailbox.pk).update(password="wrong", polled_at=None)
    run_pass()
    assert "AUTHENTICATIONFAILED" in Mailbox.objects.get(pk=mailbox.pk).last_error.upper() or \
        Mailbox.objects.get(pk=mailbox.pk).last_error
