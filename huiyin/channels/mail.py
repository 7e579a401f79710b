"""E-mail intake: IMAP polling of the configured mailboxes (`Mailbox`).

Each new message becomes a case on the e-mail channel with its attachments, registered by the
mailbox's service account; a reply whose subject names a case (TS20260213-000123) and comes from
that case's complainant is threaded onto the case as information instead. Auto-replies, bounces
and our own mail coming back (loops) are ignored; a message that cannot be parsed is kept whole
and reported (`InboundMessage`, state failed), never lost.

Nothing in the mailbox changes before the case has committed: messages are read with
BODY.PEEK (not even \\Seen is set), and a message is flagged (`$HuiyinDone` and \\Seen) only
after its row has committed. A worker that dies in between leaves the message unflagged; the
next poll finds its `InboundMessage` row (unique per mailbox and Message-ID) and only flags it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import time
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from huiyin.cases import inputs, notifications, services, workflow
from huiyin.cases.attachments import attachment_add
from huiyin.cases.errors import CaseError
from huiyin.cases.models import Case
from huiyin.portal.services import service_user

from .models import InboundMessage, InboundState, Mailbox

log = logging.getLogger(__name__)

DONE = "$HuiyinDone"
CASE_NUMBER = re.compile(r"\b([A-Z]{2}\d{8}-\d{6})\b")
AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|自动回复|自動回覆|休假|不在办公室|"
                          r"delivery status notification|undeliver|returned mail|mail delivery failed|退信|"
                          r"系统退信)", re.IGNORECASE)
BATCH = 50


class Unparseable(Exception):
    pass


# --- reading one message ------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def parse(raw: bytes) -> EmailMessage:
    """The message, or Unparseable when it has no sender or its body cannot be read."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if not msg.get("From"):
            raise Unparseable("no From header")
        body_text(msg)
        return msg
    except Unparseable:
        raise
    except Exception as exc:  # noqa: BLE001 — any failure to read it is "cannot be parsed"
        raise Unparseable(f"{type(exc).__name__}: {exc}") from None


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        raise Unparseable("the text is not text")
    return _html_text(content) if part.get_content_type() == "text/html" else content.strip()


def attachments(msg: EmailMessage) -> list[tuple[str, bytes]]:
    out = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            out.append(((part.get_filename() or "attachment").replace("/", "_")[:200], data))
    return out


def ignored_because(msg: Message, mailbox: Mailbox) -> str:
    """Why a message is not for a person to handle: an auto-reply, a bounce, or a loop (our own
    notifications or another mailbox of ours answering); "" when it is."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"auto-reply (Auto-Submitted: {auto})"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress", "").lower() == "all":
        return "auto-reply"
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence {msg.get('Precedence')}"
    if msg.get_content_type() == "multipart/report" or msg.get("X-Failed-Recipients"):
        return "bounce (delivery report)"
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    local = sender.split("@")[0]
    if local in ("mailer-daemon", "postmaster") or msg.get("Return-Path", "").strip() == "<>":
        return "bounce"
    if AUTO_SUBJECT.match(str(msg.get("Subject", ""))):
        return "auto-reply or bounce (subject)"
    if msg.get("X-Huiyin-Delivery") or msg.get("X-Huiyin-Mailbox"):
        return "loop: our own mail"
    ours = {settings.DEFAULT_FROM_EMAIL.lower(), mailbox.username.lower(),
            *(m.lower() for m in Mailbox.objects.values_list("username", flat=True))}
    if sender in ours:
        return "loop: from one of our own addresses"
    return ""


def _message_id(msg: Message, raw: bytes) -> str:
    value = str(msg.get("Message-ID", "") or "").strip()
    return value[:500] if value else "sha256:" + hashlib.sha256(raw).hexdigest()


# --- what a message becomes ------------------------------------------------------------------------


def mailbox_user(mailbox: Mailbox) -> Any:
    return service_user(f"mailbox-{mailbox.pk}", f"邮件受理：{mailbox.name}"[:50], mailbox.unit)


def _thread_target(msg: EmailMessage, sender: str) -> Case | None:
    """The case a reply is about: a case number in the subject, from that case's complainant."""
    for number in CASE_NUMBER.findall(str(msg.get("Subject", "")).upper()):
        case = Case.objects.filter(number=number).first()
        if case is not None and sender and case.complainant_email.lower() == sender.lower():
            return case
    return None


def ingest(mailbox: Mailbox, uid: int, raw: bytes, *, arrived: datetime | None = None) -> InboundMessage:
    """What one message becomes, committed: a new case, information on its case, ignored, or kept
    as failed. Repeating it (a message read again) changes nothing and answers the first row."""
    try:
        msg: EmailMessage | None = parse(raw)
    except Unparseable as exc:
        msg, why = None, str(exc)
    message_id = _message_id(msg, raw) if msg is not None else "sha256:" + hashlib.sha256(raw).hexdigest()
    existing = InboundMessage.objects.filter(mailbox=mailbox, message_id=message_id).first()
    if existing is not None:
        return existing
    if msg is None:
        log.warning("mailbox %s: message %s cannot be parsed (%s); kept for a person", mailbox.name, uid, why)
        return InboundMessage.objects.create(mailbox=mailbox, uid=uid, message_id=message_id,
                                             state=InboundState.FAILED, reason=why[:500], raw=raw)
    name, sender = parseaddr(str(msg.get("From", "")))
    subject = str(msg.get("Subject", "") or "").strip()
    row = {"mailbox": mailbox, "uid": uid, "message_id": message_id, "sender": sender[:300], "subject": subject[:500]}
    why = ignored_because(msg, mailbox)
    if why:
        return InboundMessage.objects.create(**row, state=InboundState.IGNORED, reason=why[:500])
    text = body_text(msg)
    files = attachments(msg)
    actor = mailbox_user(mailbox)
    target = _thread_target(msg, sender)
    if target is not None:
        with transaction.atomic():
            with workflow.change(target, "information", actor=None, source="email") as step:
                step.note("information", (f"{subject}\n\n{text}" if text else subject)[:5000])
                step.note("message_id", message_id)
            notifications.notify_event(step.case, "case.information_added", note=subject[:200],
                                       dedupe=f"case.information_added:{target.number}:{message_id[:150]}")
            refused = _attach(step.case, files, actor)
            return InboundMessage.objects.create(**row, state=InboundState.THREADED, case=target,
                                                 reason="; ".join(refused)[:500])
    received = arrived if arrived is not None and arrived <= timezone.now() else timezone.now()
    email_ok = bool(inputs.EMAIL.match(sender)) and len(sender) <= 254
    body = {
        "kind": "complaint", "channel": "email", "subject": (subject or "（无主题的来信）")[:200],
        "description": text[:20000], "received_at": received.isoformat(),
        "complainant": {"name": (name or "")[:100], "email": sender if email_ok else "",
                        "notify_via": "email" if email_ok else ""},
    }
    made: list[InboundMessage] = []

    def keep(case: Case) -> None:
        refused = _attach(case, files, actor)
        made.append(InboundMessage.objects.create(**row, state=InboundState.CASE, case=case,
                                                  reason="; ".join(refused)[:500]))

    try:
        services.case_register(body, actor=actor, source="email", urge_open=False, also=keep)
    except CaseError as exc:
        log.warning("mailbox %s: message %s not registered (%s); kept for a person", mailbox.name, uid, exc.message)
        return InboundMessage.objects.create(**row, state=InboundState.FAILED, reason=exc.message[:500], raw=raw)
    return made[0]


def _attach(case: Case, files: list[tuple[str, bytes]], actor: Any) -> list[str]:
    """Attach what can be (each in its own savepoint); the names and reasons of what was refused."""
    refused = []
    for name, data in files:
        try:
            attachment_add(case, SimpleUploadedFile(name, data), actor=actor, source="email")
        except CaseError as exc:
            refused.append(f"{name}: {exc.message}")
    return refused


# --- the mailbox ---------------------------------------------------------------------------------


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    conn: imaplib.IMAP4 = (imaplib.IMAP4_SSL(mailbox.host, mailbox.port, timeout=30) if mailbox.ssl
                           else imaplib.IMAP4(mailbox.host, mailbox.port, timeout=30))
    conn.login(mailbox.username, mailbox.password)
    typ, _ = conn.select(_quote(mailbox.folder))
    if typ != "OK":
        raise imaplib.IMAP4.error(f"cannot open folder {mailbox.folder!r}")
    return conn


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def poll_mailbox(mailbox: Mailbox, *, limit: int = BATCH) -> int:
    """Read up to `limit` new messages of one mailbox; each is committed, then flagged. Returns how
    many were handled. Connection errors are kept on the mailbox (`last_error`) and raised."""
    conn = _connect(mailbox)
    handled = 0
    try:
        typ, data = conn.uid("SEARCH", "UNKEYWORD", DONE)
        if typ != "OK":
            raise imaplib.IMAP4.error("SEARCH failed")
        uids = [int(u) for u in (data[0] or b"").split()][:limit]
        for uid in uids:
            typ, parts = conn.uid("FETCH", str(uid), "(INTERNALDATE BODY.PEEK[])")
            if typ != "OK" or not parts or not isinstance(parts[0], tuple):
                continue
            meta, raw = parts[0]
            arrived = None
            stamp = imaplib.Internaldate2tuple(meta)
            if stamp is not None:
                arrived = datetime.fromtimestamp(time.mktime(stamp), tz=timezone.get_current_timezone())
            ingest(mailbox, uid, raw, arrived=arrived)
            # committed: now, and only now, the mailbox is told
            conn.uid("STORE", str(uid), "+FLAGS", f"({DONE} \\Seen)")
            handled += 1
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return handled


def poll_mailboxes() -> int:
    """The worker's job: each active mailbox not polled for MAIL_POLL_SECONDS is claimed (a
    conditional UPDATE of `polled_at`: one worker polls it) and read; returns messages handled."""
    now = timezone.now()
    due = Mailbox.objects.filter(active=True).filter(
        Q(polled_at__isnull=True) | Q(polled_at__lt=now - timedelta(seconds=settings.MAIL_POLL_SECONDS)))
    handled = 0
    for mailbox in list(due.order_by("id")):
        if Mailbox.objects.filter(pk=mailbox.pk, polled_at=mailbox.polled_at).update(polled_at=now) != 1:
            continue
        try:
            n = poll_mailbox(mailbox)
            handled += n
            # a full batch: more may wait — the mailbox is due again at once
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", **({"polled_at": None} if n >= BATCH else {}))
        except (imaplib.IMAP4.error, OSError) as exc:
            log.warning("mailbox %s: %s", mailbox.name, exc)
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
    return handled


