"""The texts of notifications, rendered from their notices when they are needed.

An outbox message is rendered by the worker just before its first delivery attempt
(`render_messages`, called by `delivery.deliver_batch`), and the text it sent is kept on the
row; an inbox item is rendered each time it is read (`render_inbox`, called when inbox items
are fetched). Either way the text comes from the event's `Template` row for the transport as
it is at that moment and from the context its `Notice` stored when the event was queued.

A template that fails (it does not compile, or it raises while rendering) never drops a
notification: the shipped default text is used, the failure is kept on the message
(`render_error`) and reported on the `Template` row (`last_error`), where the admin pages
show it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .defaults import default_template, plain_text
from .models import Event, Template, TemplateTransport, Transport, template_transport_for
from .rendering import one_line, render

if TYPE_CHECKING:
    from .models import InboxItem, Message

log = logging.getLogger("huiyin.notify")


@dataclass
class Text:
    subject: str
    body: str
    error: str = ""


def display_name(user: Any) -> str:
    """How a person is named in texts (the `recipient` and `recipients` of the context)."""
    return user.display_name or user.get_full_name() or user.username


@dataclass
class Texts:
    """Renders texts from the Template rows of some events, read once, with the defaults as
    fallback; collects template failures to report them once."""

    rows: dict[tuple[str, str], Template]
    errors: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, events: Iterable[str], transports: Iterable[str] | None = None) -> Texts:
        events = set(events)
        if not events:
            return cls({})
        qs = Template.objects.filter(event__in=events)
        if transports is not None:
            qs = qs.filter(transport__in={template_transport_for(t) for t in transports})
        return cls({(t.event, t.transport): t for t in qs})

    def render(self, event: str, transport: str, context: dict[str, Any]) -> Text:
        """The (subject, body) of `event` on `transport` for `context`, never raising."""
        ttransport = template_transport_for(transport)
        row = self.rows.get((event, ttransport))
        error = ""
        if row is not None:
            try:
                return Text(render(row.subject, context), render(row.body, context))
            except Exception as exc:  # noqa: BLE001 — a broken template must never drop a notification
                error = f"{type(exc).__name__}: {exc}"
                self.errors.setdefault(row.pk, error)
        subject, body = default_template(event, ttransport)
        try:
            return Text(render(subject, context), render(body, context), error)
        except Exception as exc:  # noqa: BLE001 — the shipped text failed too (a context that breaks filters)
            label = str(context.get("event_label") or Event(event).label)
            subject, body = plain_text(event, label, str(context.get("case_number", "")))
            return Text(subject, body, error or f"{type(exc).__name__}: {exc}")

    def sms_template_id(self, event: str) -> str:
        row = self.rows.get((event, TemplateTransport.SMS))
        return row.gateway_template_id if row is not None else ""

    def report(self) -> None:
        """Record the failures on the Template rows (once per error: reading an inbox with a
        broken template does not write on every page view)."""
        now = timezone.now()
        for pk, error in self.errors.items():
            row = next(r for r in self.rows.values() if r.pk == pk)
            if row.last_error == error[:2000]:
                continue
            log.warning("notification template %s failed (%s); the default text was used", pk, error)
            Template.objects.filter(pk=pk).update(last_error=error[:2000], last_error_at=now)
            row.last_error = error[:2000]
        self.errors.clear()


def context_for(notice_context: dict[str, Any], recipient: Any | None) -> dict[str, Any]:
    """The rendering context of one person (or of a group chat or webhook: no recipient)."""
    return {**notice_context, "recipient": display_name(recipient) if recipient is not None else ""}


def render_inbox(items: Sequence[InboxItem]) -> None:
    """Fill in `title` and `body` of inbox items that have a notice (in memory; never saved)."""
    fresh = [i for i in items if i.notice_id is not None]
    if not fresh:
        return
    texts = Texts.load({i.event for i in fresh}, [TemplateTransport.INBOX])
    for item in fresh:
        notice = item.notice
        assert notice is not None
        text = texts.render(item.event, TemplateTransport.INBOX, context_for(notice.context, item.user))
        item.title, item.body = one_line(text.subject, 200), text.body
    texts.report()


def needs_text(message: Message) -> bool:
    """A message is rendered once, at its first delivery attempt; webhooks carry data only."""
    return message.notice_id is not None and message.transport != Transport.WEBHOOK and not message.body


def render_messages(messages: Sequence[Message]) -> list[Message]:
    """Render the messages that have no text yet (in memory; `delivery` saves the text with
    the attempt's outcome). Returns the messages rendered now."""
    todo = [m for m in messages if needs_text(m)]
    if not todo:
        return []
    texts = Texts.load({m.event for m in todo}, {m.transport for m in todo})
    for message in todo:
        notice = message.notice
        assert notice is not None
        text = texts.render(message.event, message.transport, context_for(notice.context, message.recipient))
        message.subject, message.body, message.render_error = one_line(text.subject, 200), text.body, text.error
        if message.transport == Transport.SMS and texts.sms_template_id(message.event):
            message.extra = {**(message.extra or {}), "sms_template": texts.sms_template_id(message.event)}
    texts.report()
    return todo
