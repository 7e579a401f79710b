"""The write side of notifications. `enqueue` is what other apps call.

`enqueue` only writes rows, in the caller's transaction: no network I/O, ever, and no
rendering. If the caller's transaction rolls back, no notification exists; if it commits, the
worker (`delivery.deliver_batch`) will deliver every outbox row, at least once, rendering its
text just before the first attempt; inbox items are rendered whenever they are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import get_language

from huiyin import kept
from huiyin.db import insert_objects, insert_one, insert_rows
from huiyin.org.models import User

from . import outbound
from .models import (
    PERSONAL_TRANSPORTS,
    QUIET_TRANSPORTS,
    ROBOT_TRANSPORTS,
    Attempt,
    Event,
    InboxItem,
    Message,
    Notice,
    NotifySettings,
    Preference,
    Status,
    Transport,
    TransportConfig,
    Webhook,
)
from .texts import display_name


class NotifyError(ValueError):
    """Bad input to a notify service (unknown event, bad webhook URL …); the message is shown."""


# --- enqueue ----------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """The caller's context as plain JSON data (dates as ISO strings, unknown objects as text)."""
    if _PLAIN_SCALARS.issuperset(map(type, data.values())):  # exact types: a str subclass goes through JSON
        return dict(data)  # the common case, already plain: no round trip through JSON
    return json.loads(json.dumps(data, cls=_Encoder, ensure_ascii=False))


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an event for `enqueue_many`; the fields are `enqueue`'s arguments.
    It becomes one `Notice` row."""

    event: str
    case_number: str
    context: dict[str, Any]
    recipients: tuple[int, ...]
    dedupe: str
    urgent: bool = False
    # Transports a route chose per recipient: see `Notice.transports`.
    transports: dict[str, list[str]] | None = None
    addresses: tuple[tuple[str, str], ...] = ()


def enqueue(
    event: str,
    *,
    case_number: str,
    context: dict[str, Any],
    recipients: Iterable[int],
    urgent: bool = False,
    dedupe: str,
    transports: dict[str, list[str]] | None = None,
    addresses: Iterable[tuple[str, str]] = (),
    machines_later: bool = False,
) -> int:
    """Write the notifications of one event, in the caller's transaction; return how many
    outbox messages were written.

    `machines_later` (the intake's announcements of a new case): when no person is to be told
    (no recipient, no address), the notice alone is written and the worker fans it out to the
    group robots and webhooks that want the event (`fan_out_pending`, the first step of every
    delivery batch, so they hear of it as soon as they would have), reading them then: nothing
    is read here and one row is written. A notice nobody listens to fans out to nothing.

    `addresses` are people who are not users — a complainant told of a notice: (transport,
    address) pairs, e.g. ("email", "a@example.com") or ("sms", "13800138000"); one message
    each when the organisation has that transport on. They are stored on the notice, never in
    its context (which webhooks and group chats receive).

    - one `Notice`: the event, the case number and `context` (plain data), stored once;
    - one `InboxItem` per active recipient (the in-app inbox is always on);
    - one `Message` per recipient and personal transport (e-mail, SMS) that the organisation
      has on, the user has not turned off, and for which the user has an address;
    - one `Message` per group robot (WeCom, DingTalk, Feishu) that is on and subscribed to
      the event, mentioning the recipients — a group chat hears of an event once;
    - one `Message` per active `Webhook` subscribed to the event.

    Nothing is rendered here: messages are rendered from the notice when the worker delivers
    them, inbox items when they are read (`texts.py`). Nothing is written when nobody is to
    be told (unless `machines_later` leaves that to the fan-out).

    `dedupe` names the occurrence (e.g. "case.dispatched:HY20260213-000001:round2"):
    repeating a call with the same `dedupe` writes nothing new and returns 0.
    Non-urgent SMS and robot messages wait for the end of quiet hours.

    `transports` (user id as text → transports) is what a policy's route chose for some
    recipients: those transports whatever their preferences, and only those unless the list
    holds "preferences" too (`Notice.transports`).
    """
    occurrence = Occurrence(event, case_number, context, tuple(recipients), dedupe, urgent, transports,
                            tuple((str(t), str(a)) for t, a in addresses))
    if machines_later and not occurrence.recipients and not _external(occurrence.addresses):
        for row in _notice_rows([occurrence], machines_later=True):
            insert_one(Notice(**row), ignore_conflicts=True)  # a repeat writes nothing; pending its fan-out
        return 0  # no message yet: the worker's fan-out writes them
    hooks = active_webhooks()  # read once, for both steps, as are the recipients
    users = _active_users(occurrence.recipients)
    rows = _notice_rows([occurrence], hooks=hooks, users=users)
    if not rows:
        return 0
    notice = Notice(**{**rows[0], "fanned_out_at": rows[0]["created_at"]})
    # Written already (a repeat, or a concurrent enqueue of the same occurrence, which must not
    # abort the caller's transaction): ON CONFLICT DO NOTHING writes nothing and returns no id,
    # and nothing else is written. One lean INSERT (huiyin/db.py) instead of a look-up and an upsert.
    if not insert_one(notice, ignore_conflicts=True):
        return 0
    return fan_out([notice], hooks=hooks, users=users)


def _active_users(ids: Iterable[int]) -> dict[int, User]:
    """The active users among `ids`, with what the notice (names) and its fan-out (addresses)
    read of them."""
    wanted = sorted(set(ids))
    # every notice: SQL kept per process and number of users (`huiyin.kept`)
    return {u.pk: u for u in kept.instances(("notify.active_users",), lambda values: User.objects.filter(
        pk__in=list(values), is_active=True).only(
        "id", "username", "display_name", "first_name", "last_name", "email", "phone"), wanted)} if wanted else {}


def active_webhooks() -> list[Webhook]:
    """The active webhooks, in order: what `enqueue` and `fan_out` write messages to."""
    return kept.instances(("notify.active_webhooks",), lambda values: Webhook.objects.filter(
        active=True).order_by("pk"), [])  # every notice: SQL kept per process (`huiyin.kept`)


def enqueue_many(occurrences: Iterable[Occurrence]) -> int:
    """`enqueue` for many occurrences at once (the scheduler's breaches and reminders), in the
    caller's transaction; returns how many notices were written.

    Only the notices are written here: one row per occurrence, whatever the number of people
    and transports. Their inbox items and messages are written by the worker's delivery step
    (`fan_out_pending`, called by `delivery.deliver_batch`), a small batch per transaction,
    seconds later — so a scheduler pass that breaches 10,000 timers stays short."""
    return insert_notices(notice_rows(occurrences))


def notice_rows(occurrences: Iterable[Occurrence]) -> list[dict[str, Any]]:
    """What `enqueue_many` writes for these occurrences, without writing it: one row (field →
    value) per occurrence someone is to hear of. Only reads (the recipients' names, who listens
    to which event), so a caller can do it before its write transaction and `insert_notices`
    inside it: on SQLite the write lock is then held for the INSERT alone."""
    return _notice_rows(occurrences)


def insert_notices(rows: Iterable[dict[str, Any]]) -> int:
    """Write `notice_rows`' rows (or some of them), in the caller's transaction; returns how many
    notices were written. Their inbox items and messages are the worker's (`fan_out_pending`)."""
    # ON CONFLICT DO NOTHING skips the occurrences already written (a repeat, or a concurrent
    # enqueue, which must not abort the caller's transaction). A lean INSERT (huiyin/db.py):
    # a pass may write thousands.
    return insert_rows(Notice, _NOTICE_FIELDS, [[row[f] for f in _NOTICE_FIELDS] for row in rows],
                       ignore_conflicts=True)


def _notice_rows(occurrences: Iterable[Occurrence], *, hooks: list[Webhook] | None = None,
                 users: dict[int, User] | None = None, machines_later: bool = False) -> list[dict[str, Any]]:
    """The notice rows (field → value) of the new occurrences that someone is to hear of
    (`hooks`, `users`: the active webhooks, the active recipients, when the caller has read
    them; `machines_later`: every occurrence's notice is written, its fan-out left to decide who
    listens: see `enqueue`)."""
    occurrences = list(occurrences)
    for n in occurrences:
        if n.event not in _EVENTS:
            raise NotifyError(f"Unknown event {n.event!r}; expected one of {', '.join(Event.values)}")
        if not n.dedupe:
            raise NotifyError("enqueue needs a dedupe key naming this occurrence of the event")
    if users is None:
        users = _active_users(i for n in occurrences for i in n.recipients)
    names = {pk: display_name(u) for pk, u in users.items()}
    listened: set[str] | None = None

    def someone_hears(n: Occurrence) -> bool:
        nonlocal listened
        if machines_later or any(i in names for i in n.recipients) or _external(n.addresses):
            return True
        if listened is None:
            listened = _events_listened_to(hooks)
        return n.event in listened

    now = timezone.now()
    language = get_language()
    rows = []
    keys: set[str] = set()
    said: dict[tuple[int, ...], str] = {}  # the recipients' names, joined once per set of people
    for n in occurrences:
        if n.dedupe[:255] in keys or not someone_hears(n):
            continue
        keys.add(n.dedupe[:255])
        ids = [i for i in sorted(set(n.recipients)) if i in names]
        key = tuple(ids)
        if key not in said:
            said[key] = "、".join(names[i] for i in ids)
        rows.append({
            "event": n.event, "case_number": n.case_number, "urgent": n.urgent, "dedupe_key": n.dedupe[:255],
            "recipients": ids, "addresses": [list(a) for a in _external(n.addresses)],
            "created_at": now, "fanned_out_at": None,
            "transports": {k: list(v) for k, v in (n.transports or {}).items() if int(k) in ids},
            "context": _plain({
                **n.context,
                "event": n.event,
                "event_label": _event_label(language, n.event),
                "case_number": n.case_number,
                "urgent": n.urgent,
                "recipient": "",
                "recipients": said[key],
            }),
        })
    return rows


_NOTICE_FIELDS = ("event", "case_number", "context", "recipients", "addresses", "transports", "urgent",
                  "dedupe_key", "created_at", "fanned_out_at")


def _external(addresses: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (transport, address) pairs of people who are not users that can be written to:
    a personal transport and a non-empty address."""
    return [(t, a.strip()) for t, a in addresses if t in PERSONAL_TRANSPORTS and a and a.strip()]


_EVENTS = frozenset(Event.values)


@cache
def _event_label(language: str | None, event: str) -> str:
    return str(Event(event).label)


def _events_listened_to(hooks: list[Webhook] | None = None) -> set[str]:
    """The events some group robot or webhook (`hooks`: the active ones, when read already)
    wants, whoever the recipients."""
    events: set[str] = set()
    for transport in ROBOT_TRANSPORTS:
        enabled, options = TransportConfig.lookup(transport)
        if enabled:
            events.update(options.get("events") or Event.values)
    for hook in Webhook.objects.filter(active=True).only("events", "active") if hooks is None else hooks:
        events.update(hook.events or Event.values)
    return events


# In `Notice.transports`: this recipient also hears over the transports of their preferences.
PREFERENCES = "preferences"


def fan_out(notices: list[Notice], *, hooks: list[Webhook] | None = None,
            users: dict[int, User] | None = None) -> int:
    """Write the inbox items and outbox messages of some notices, in the caller's transaction
    (no text: see `texts.py`); return how many messages. The users, preferences, transport
    settings and webhooks (`hooks`, `users`: the active webhooks and recipients, when the caller
    has read them) are read once for all the notices."""
    inbox, messages = _fan_out_rows(notices, hooks=hooks, users=users)
    return _write_fan_out(inbox, messages)


def _write_fan_out(inbox: list[InboxItem], messages: list[Message]) -> int:
    # ON CONFLICT DO NOTHING (see `enqueue`); a lean INSERT (huiyin/db.py): the worker's
    # fan-out writes hundreds of rows per transaction, and holds SQLite's write lock meanwhile.
    insert_objects(inbox, ignore_conflicts=True)
    insert_objects(messages, ignore_conflicts=True)
    return len(messages)


def _fan_out_rows(notices: list[Notice], *, hooks: list[Webhook] | None = None,
                  users: dict[int, User] | None = None) -> tuple[list[InboxItem], list[Message]]:
    """`fan_out`'s rows, unsaved: only reads."""
    if not notices:
        return [], []
    now = timezone.now()
    users_by_id = _active_users(i for n in notices for i in n.recipients) if users is None else users
    personal = [t for t in PERSONAL_TRANSPORTS if TransportConfig.lookup(t)[0]]
    prefs = {(p.user_id, p.transport): p for p in kept.instances(("notify.preferences",), lambda values: (
        Preference.objects.filter(user_id__in=list(values))), sorted(users_by_id))} if users_by_id and personal else {}
    robots = []
    for transport in ROBOT_TRANSPORTS:
        enabled, options = TransportConfig.lookup(transport)
        if enabled:
            robots.append((transport, options.get("events") or []))
    if hooks is None:
        hooks = active_webhooks()
    quiet_release: list[datetime | None] = []

    def due_at(transport: str, urgent: bool) -> datetime:
        if urgent or transport not in QUIET_TRANSPORTS:
            return now
        if not quiet_release:
            quiet_release.append(NotifySettings.current().quiet_until(now))
        return quiet_release[0] or now

    inbox: list[InboxItem] = []
    messages: list[Message] = []
    for notice in notices:
        event, dedupe = notice.event, notice.dedupe_key
        told = [users_by_id[i] for i in notice.recipients if i in users_by_id]

        def message(transport: str, key: str, *, notice: Notice = notice, **fields: Any) -> Message:
            return Message(
                notice_id=notice.pk, event=notice.event, case_number=notice.case_number, transport=transport,
                dedupe_key=key[:255], urgent=notice.urgent, next_attempt_at=due_at(transport, notice.urgent),
                created_at=now, **fields,
            )

        inbox += [
            InboxItem(notice_id=notice.pk, user_id=user.pk, event=event, case_number=notice.case_number,
                      title="", body="", dedupe_key=f"{dedupe}|inbox|{user.pk}"[:255], created_at=notice.created_at)
            for user in told
        ]
        chosen_by_route = notice.transports or {}
        for user in told:
            chosen = chosen_by_route.get(str(user.pk))
            for transport in personal:
                forced = chosen is not None and transport in chosen
                if chosen is not None and not forced and PREFERENCES not in chosen:
                    continue
                pref = prefs.get((user.pk, transport))
                if pref is not None and not pref.enabled and not forced:
                    continue
                own = user.email if transport == Transport.EMAIL else user.phone
                address = ((pref.address if pref is not None else "") or own or "").strip()
                if address:
                    messages.append(message(transport, f"{dedupe}|{transport}|{user.pk}",
                                            recipient_id=user.pk, address=address))
        for i, (transport, address) in enumerate(notice.addresses or []):
            if transport in personal:
                messages.append(message(transport, f"{dedupe}|{transport}|to{i}", address=address))
        for transport, wanted in robots:
            if not wanted or event in wanted:
                mentions = [u.phone for u in told if u.phone]
                messages.append(message(transport, f"{dedupe}|{transport}", extra={"mentions": mentions}))
        for hook in hooks:
            if hook.wants(event):
                messages.append(message(Transport.WEBHOOK, f"{dedupe}|webhook|{hook.pk}", address=str(hook.pk)))
    return inbox, messages


def fan_out_pending(*, limit: int = 100) -> int:
    """Fan out up to `limit` notices that `enqueue_many` left to the worker, in one short
    transaction; return how many. The notices and what they fan out to (users, preferences,
    transports, webhooks) are read before it; the transaction marks the notices done — only
    those still pending: safe with several workers, the second one's UPDATE finds them done
    (PostgreSQL: it waits for the first one's row locks, then sees them) — and writes their rows."""
    notices = list(Notice.objects.filter(fanned_out_at__isnull=True).order_by("id")[:limit])
    if not notices:
        return 0
    inbox, messages = _fan_out_rows(notices)
    now = timezone.now()
    table = connection.ops.quote_name(Notice._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET fanned_out_at = %s WHERE fanned_out_at IS NULL "  # noqa: S608  # nosec B608 (our names, values bound)
                           f"AND id IN ({', '.join(['%s'] * len(notices))}) RETURNING id",
                           [connection.ops.adapt_datetimefield_value(now), *(n.pk for n in notices)])
            mine = {pk for (pk,) in cursor.fetchall()}
        if not mine:
            return 0
        _write_fan_out([i for i in inbox if i.notice_id in mine], [m for m in messages if m.notice_id in mine])
    return len(mine)


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
    # The notices nothing points to any more (their inbox items render from them: kept).
    Notice.objects.filter(created_at__lt=cutoff).exclude(
        Exists(Message.objects.filter(notice=OuterRef("pk")))).exclude(
        Exists(InboxItem.objects.filter(notice=OuterRef("pk")))).delete()
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
        raise NotifyError("Not an http(s) URL.")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise NotifyError(f"Refused: {exc}.") from None


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
