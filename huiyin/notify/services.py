"""The write side of notifications. `enqueue` is what other apps call.

`enqueue` only writes rows, in the caller's transaction: no network I/O, ever. If the
caller's transaction rolls back, no notification exists; if it commits, the worker
(`delivery.deliver_batch`) will deliver every row, at least once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from huiyin.org.models import User

from .defaults import default_template, plain_text
from .models import (
    PERSONAL_TRANSPORTS,
    QUIET_TRANSPORTS,
    ROBOT_TRANSPORTS,
    Attempt,
    Event,
    InboxItem,
    Message,
    NotifySettings,
    Preference,
    Status,
    Template,
    TemplateTransport,
    Transport,
    TransportConfig,
    Webhook,
    template_transport_for,
)
from .rendering import one_line, render

log = logging.getLogger("huiyin.notify")


class NotifyError(ValueError):
    """Bad input to a notify service (unknown event, bad webhook URL …); the message is shown."""


# --- enqueue ----------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """The caller's context as plain JSON data (dates as ISO strings, unknown objects as text)."""
    return json.loads(json.dumps(data, cls=_Encoder, ensure_ascii=False))  # type: ignore[no-any-return]


@dataclass
class _Text:
    subject: str
    body: str
    error: str = ""


@dataclass
class _Renderer:
    """Renders one event's texts from the Template rows, falling back to the defaults."""

    event: str
    event_label: str
    case_number: str
    rows: dict[str, Template]
    errors: dict[int, str] = field(default_factory=dict)

    def text(self, transport: str, context: dict[str, Any]) -> _Text:
        ttransport = template_transport_for(transport)
        row = self.rows.get(ttransport)
        error = ""
        if row is not None:
            try:
                return _Text(render(row.subject, context), render(row.body, context))
            except Exception as exc:  # noqa: BLE001 — a broken template must never drop a notification
                error = f"{type(exc).__name__}: {exc}"
                self.errors.setdefault(row.pk, error)
        subject, body = default_template(self.event, ttransport)
        try:
            return _Text(render(subject, context), render(body, context), error)
        except Exception as exc:  # noqa: BLE001 — the shipped text failed too (a context that breaks filters)
            subject, body = plain_text(self.event, self.event_label, self.case_number)
            return _Text(subject, body, error or f"{type(exc).__name__}: {exc}")

    def report(self, now: datetime) -> None:
        """Record template failures on the Template rows, where the admin pages show them."""
        for pk, error in self.errors.items():
            log.warning("notification template %s failed (%s); the default text was used", pk, error)
            Template.objects.filter(pk=pk).update(last_error=error[:2000], last_error_at=now)


def _display(user: User) -> str:
    return user.display_name or user.get_full_name() or user.username


@dataclass(frozen=True)
class Notice:
    """One occurrence of an event for `enqueue_many`; the fields are `enqueue`'s arguments."""

    event: str
    case_number: str
    context: dict[str, Any]
    recipients: tuple[int, ...]
    dedupe: str
    urgent: bool = False


def enqueue(
    event: str,
    *,
    case_number: str,
    context: dict[str, Any],
    recipients: Iterable[int],
    urgent: bool = False,
    dedupe: str,
) -> int:
    """Write the notifications of one event, in the caller's transaction; return how many
    outbox messages were written.

    - one `InboxItem` per active recipient (the in-app inbox is always on);
    - one `Message` per recipient and personal transport (e-mail, SMS) that the organisation
      has on, the user has not turned off, and for which the user has an address;
    - one `Message` per group robot (WeCom, DingTalk, Feishu) that is on and subscribed to
      the event, mentioning the recipients — a group chat hears of an event once;
    - one `Message` per active `Webhook` subscribed to the event.

    `dedupe` names the occurrence (e.g. "case.dispatched:HY20260213-000001:round2"):
    repeating a call with the same `dedupe` writes nothing new and returns 0 for the rows
    that already exist. Non-urgent SMS and robot messages wait for the end of quiet hours.
    """
    return enqueue_many([Notice(event, case_number, context, tuple(recipients), dedupe, urgent)])


def enqueue_many(notices: Iterable[Notice]) -> int:
    """`enqueue` for many occurrences at once (the scheduler's breaches and reminders): the
    users, preferences, templates and webhooks are read once, the rows inserted in bulk."""
    notices = list(notices)
    for n in notices:
        if n.event not in Event.values:
            raise NotifyError(f"Unknown event {n.event!r}; expected one of {', '.join(Event.values)}")
        if not n.dedupe:
            raise NotifyError("enqueue needs a dedupe key naming this occurrence of the event")
    if not notices:
        return 0
    now = timezone.now()
    all_ids = {i for n in notices for i in n.recipients}
    users_by_id = {u.pk: u for u in User.objects.filter(pk__in=all_ids, is_active=True)} if all_ids else {}
    prefs = {(p.user_id, p.transport): p for p in Preference.objects.filter(user_id__in=list(users_by_id))} \
        if users_by_id else {}
    templates: dict[str, dict[str, Template]] = {}
    for t in Template.objects.filter(event__in={n.event for n in notices}):
        templates.setdefault(t.event, {})[t.transport] = t
    hooks = [h for h in Webhook.objects.filter(active=True).order_by("pk")]
    quiet_release: list[datetime | None] = []
    inbox: list[InboxItem] = []
    messages: list[Message] = []
    renderers: list[_Renderer] = []

    for n in notices:
        event, case_number, urgent, dedupe = n.event, n.case_number, n.urgent, n.dedupe
        event_label = str(Event(event).label)
        users = [users_by_id[i] for i in sorted(set(n.recipients)) if i in users_by_id]
        renderer = _Renderer(event, event_label, case_number, templates.get(event, {}))
        renderers.append(renderer)
        rows = renderer.rows
        base = _plain({
            **n.context,
            "event": event,
            "event_label": event_label,
            "case_number": case_number,
            "urgent": urgent,
            "recipient": "",
            "recipients": "、".join(_display(u) for u in users),
        })

        def due_at(transport: str, urgent: bool = urgent) -> datetime:
            if urgent or transport not in QUIET_TRANSPORTS:
                return now
            if not quiet_release:
                quiet_release.append(NotifySettings.current().quiet_until(now))
            return quiet_release[0] or now

        def message(transport: str, key: str, text: _Text, *, n: Notice = n, base: dict[str, Any] = base,
                    due_at: Any = due_at, **fields: Any) -> Message:
            payload = {"context": base, **fields.pop("payload", {})}
            return Message(
                event=n.event, case_number=n.case_number, transport=transport, dedupe_key=key[:255],
                subject=one_line(text.subject, 200), body=text.body, payload=payload, urgent=n.urgent,
                next_attempt_at=due_at(transport), render_error=text.error, created_at=now, **fields,
            )

        for user in users:
            ctx = {**base, "recipient": _display(user)}
            text = renderer.text(TemplateTransport.INBOX, ctx)
            inbox.append(InboxItem(
                user=user, event=event, case_number=case_number, title=one_line(text.subject, 200),
                body=text.body, dedupe_key=f"{dedupe}|inbox|{user.pk}"[:255], created_at=now,
            ))
            for transport in PERSONAL_TRANSPORTS:
                enabled, _options = TransportConfig.lookup(transport)
                pref = prefs.get((user.pk, transport))
                if not enabled or (pref is not None and not pref.enabled):
                    continue
                own = user.email if transport == Transport.EMAIL else user.phone
                address = ((pref.address if pref is not None else "") or own or "").strip()
                if not address:
                    continue
                text = renderer.text(transport, ctx)
                extra: dict[str, Any] = {}
                if transport == Transport.SMS and TemplateTransport.SMS in rows:
                    extra = {"sms_template": rows[TemplateTransport.SMS].gateway_template_id}
                messages.append(message(transport, f"{dedupe}|{transport}|{user.pk}", text,
                                        recipient=user, address=address, payload=extra))

        for transport in ROBOT_TRANSPORTS:
            enabled, options = TransportConfig.lookup(transport)
            wanted = options.get("events") or []
            if not enabled or (wanted and event not in wanted):
                continue
            text = renderer.text(transport, base)
            mentions = [u.phone for u in users if u.phone]
            messages.append(message(transport, f"{dedupe}|{transport}", text, payload={"mentions": mentions}))

        for hook in hooks:
            if hook.wants(event):
                messages.append(message(Transport.WEBHOOK, f"{dedupe}|webhook|{hook.pk}", _Text("", ""),
                                        address=str(hook.pk)))

    for renderer in renderers:
        renderer.report(now)
    _insert_new(InboxItem, inbox)
    return _insert_new(Message, messages)


def _insert_new(model: type[InboxItem | Message], rows: list[Any]) -> int:
    """Insert the rows whose dedupe_key is new; return how many that was."""
    if not rows:
        return 0
    keys = [r.dedupe_key for r in rows]
    existing: set[str] = set()
    for i in range(0, len(keys), 900):  # SQLite limits the parameters of one query
        existing.update(model.objects.filter(dedupe_key__in=keys[i:i + 900]).values_list("dedupe_key", flat=True))
    new = [r for r in rows if r.dedupe_key not in existing]
    # ignore_conflicts: a concurrent enqueue of the same occurrence must not abort the
    # caller's transaction (ON CONFLICT DO NOTHING on both databases).
    model.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)  # type: ignore[attr-defined]
    return len(new)


# --- dead letters -------------------------------------------------------------------------


def message_retry(message_id: int) -> bool:
    """Requeue a failed or dead message now, with a fresh set of attempts.

    Returns False (a no-op) when the message is not failed or dead (already sent, or
    being sent). The attempts already made stay in the `Attempt` rows."""
    changed = Message.objects.filter(pk=message_id, status__in=[Status.FAILED, Status.DEAD]).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="", claimed_until=None,
    )
    return changed == 1


def messages_retry_dead() -> int:
    """Requeue every dead message; returns how many."""
    return Message.objects.filter(status=Status.DEAD).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="", claimed_until=None,
    )


def messages_purge(*, older_than_days: int) -> int:
    """Delete sent messages (and their attempts) created more than `older_than_days` ago.

    Failed and dead messages are kept whatever their age: they are the administrators'
    to look at. Returns how many messages were deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = Message.objects.filter(status=Status.SENT, created_at__lt=cutoff)
    Attempt.objects.filter(message__in=old).delete()
    deleted, _ = old.delete()
    return deleted


# --- inbox ------------------------------------------------------------------------------


def inbox_item_for(user: User, item_id: int) -> InboxItem | None:
    """The user's own inbox item, or None (someone else's item is as good as missing)."""
    return InboxItem.objects.filter(pk=item_id, user=user).first()


def inbox_mark_read(item: InboxItem) -> None:
    """Mark an inbox item read. Repeating it is a no-op (the first read time is kept)."""
    if item.read_at is None:
        now = timezone.now()
        InboxItem.objects.filter(pk=item.pk, read_at=None).update(read_at=now)
        item.read_at = now


# --- webhooks -----------------------------------------------------------------------------


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError(f"Not an http(s) URL: {url!r}")


def _check_events(events: Iterable[str]) -> list[str]:
    names = [e.strip() for e in events if e.strip()]
    unknown = sorted(set(names) - set(Event.values))
    if unknown:
        raise NotifyError(
            f"Unknown event(s): {', '.join(unknown)}. Known events: {', '.join(Event.values)}"
        )
    return sorted(set(names), key=Event.values.index)


@transaction.atomic
def webhook_add(url: str, *, secret: str, events: Iterable[str] = (), description: str = "") -> Webhook:
    """Register a generic webhook; `events` empty means every event."""
    _check_url(url)
    if not secret.strip():
        raise NotifyError("A webhook needs a secret (--secret) to sign its deliveries.")
    names = _check_events(events)
    return Webhook.objects.create(url=url, secret=secret, events=names, description=description)


def webhook_remove(webhook_id: int) -> bool:
    """Deactivate and delete a webhook. Its undelivered messages go dead ("webhook removed")."""
    deleted, _ = Webhook.objects.filter(pk=webhook_id).delete()
    return deleted > 0
