"""Notifications (DESIGN §6): the outbox, its delivery attempts, the in-app inbox, templates,
webhooks, user preferences and the organisation's transport configuration.

`services.enqueue` writes, in the caller's transaction, one `Notice` per occurrence of an
event (its context stored once, as plain data), an `InboxItem` per recipient and the outbox
rows (`Message`, one per recipient and transport) — none of them with a rendered text; for
the scheduler's batches (`enqueue_many`) the worker writes the inbox items and messages.
`delivery.deliver_batch` claims due messages with a conditional UPDATE over a partial index
of due rows (the same shape as healthchecks' `Flip` and `sendalerts`) and renders each one
from its notice just before sending it; an inbox item is rendered from its notice whenever it
is read (`InboxItemQuerySet`). See `texts.py` and docs/decisions/0004-render-at-delivery.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.query import ModelIterable
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huiyin.org.fields import SealedJSONObjectField, SealedTextField


class Event(models.TextChoices):
    """The events other apps may notify about (the contract of `enqueue`)."""

    CASE_CREATED = "case.created", _("新工单")
    CASE_DISPATCHED = "case.dispatched", _("工单派发")
    CASE_ACKNOWLEDGED = "case.acknowledged", _("工单签收")
    CASE_REMINDER = "case.reminder", _("办理时限提醒")
    CASE_BREACHED = "case.breached", _("工单超期")
    CASE_ESCALATED = "case.escalated", _("工单升级")
    CASE_URGED = "case.urged", _("工单催办")
    CASE_RESULT_SUBMITTED = "case.result_submitted", _("办理结果已反馈")
    CASE_CALLBACK_DUE = "case.callback_due", _("工单待回访")
    CASE_EXTENSION_REQUESTED = "case.extension_requested", _("延期申请")
    CASE_APPROVAL_NEEDED = "case.approval_needed", _("工单待批示")
    CASE_MAJOR_OPENED = "case.major_opened", _("重大工单")
    CASE_CLOSED = "case.closed", _("工单办结")
    # huiyin.reports: reports, warnings, accountability, corrective actions (no case, or one named)
    REPORT_READY = "report.ready", _("统计报告已生成")
    BULLETIN_PUBLISHED = "bulletin.published", _("通报已发布")
    WARNING_RAISED = "warning.raised", _("预警")
    PENALTY_RECORDED = "penalty.recorded", _("考核记录")
    PENALTY_APPEALED = "penalty.appealed", _("考核申诉")
    ACTION_OVERDUE = "action.overdue", _("整改措施逾期")
    # huiyin.knowledge: an article past its expiry date, told to its owner
    KNOWLEDGE_EXPIRED = "knowledge.expired", _("知识条目失效")
    # Issue 12: what the complainant does on the portal, and the notices sent to the complainant.
    CASE_REOPEN_REQUESTED = "case.reopen_requested", _("投诉人申请重办")
    CASE_INFORMATION_ADDED = "case.information_added", _("投诉人补充材料")
    COMPLAINANT_NOTICE = "complainant.notice", _("告知投诉人")


class Transport(models.TextChoices):
    """How a `Message` leaves the system. The in-app inbox is not a transport: it is a row."""

    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")
    WECOM = "wecom", _("企业微信群机器人")
    DINGTALK = "dingtalk", _("钉钉群机器人")
    FEISHU = "feishu", _("飞书群机器人")
    WEBHOOK = "webhook", _("Webhook")


# Sent to each recipient at his own address (per-user preferences apply).
PERSONAL_TRANSPORTS = (Transport.EMAIL, Transport.SMS)
# Sent once per event to the organisation's group chat, mentioning the recipients.
ROBOT_TRANSPORTS = (Transport.WECOM, Transport.DINGTALK, Transport.FEISHU)
# Held during quiet hours unless the event is urgent (they buzz a phone).
QUIET_TRANSPORTS = (Transport.SMS, *ROBOT_TRANSPORTS)


class TemplateTransport(models.TextChoices):
    """Which text a template renders. The three robots share one text; webhooks carry data."""

    INBOX = "inbox", _("站内信")
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")
    ROBOT = "robot", _("群机器人")


def template_transport_for(transport: str) -> str:
    return TemplateTransport.ROBOT if transport in ROBOT_TRANSPORTS else transport


class Status(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败待重试")
    DEAD = "dead", _("投递失败")


# A message in one of these states is waiting for its `next_attempt_at`.
WAITING = (Status.PENDING, Status.FAILED)


class Notice(models.Model):
    """One occurrence of an event, as `enqueue` was told it: the event, the case number and
    the context — plain data (texts, labels, ISO dates), stored once however many people and
    transports hear of it. Its inbox items and outbox messages are rendered from it: a message
    when it is delivered, an inbox item when it is read. `dedupe_key` names the occurrence:
    enqueueing it again writes nothing.
    """

    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    case_number = models.CharField(_("工单编号"), max_length=40, blank=True)
    # The caller's context plus event, event_label, case_number, urgent and recipients (the
    # recipients' names); `recipient` is added per person when a text is rendered.
    context = models.JSONField(_("数据"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    # The ids of the users told (those active when the event was queued).
    recipients = models.JSONField(_("接收人"), default=list, blank=True)
    # People who are not users (a complainant): [[transport, address], …], one message each.
    # Kept out of the context, which webhooks and group chats receive.
    addresses = models.JSONField(_("外部地址"), default=list, blank=True)
    # The personal transports a policy's route chose for some recipients (user id as text →
    # transports, e.g. {"7": ["sms"]}): those are used whatever the person's preferences, and
    # only those unless the list also holds "preferences". Recipients not named here: their
    # preferences (`services.fan_out`).
    transports = models.JSONField(_("指定渠道"), default=dict, blank=True)
    urgent = models.BooleanField(_("紧急"), default=False)
    dedupe_key = models.CharField(max_length=255, unique=True)  # `=` only: no LIKE index (migration 0009)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    # When its inbox items and messages were written: at once by `enqueue`; by the worker
    # for the scheduler's batches (`services.fan_out_pending`). Null: not yet.
    fanned_out_at = models.DateTimeField(_("分发时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知事件")
        verbose_name_plural = _("通知事件")
        indexes = [
            models.Index(fields=["id"], name="notify_notice_pending", condition=Q(fanned_out_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.case_number}"


class Message(models.Model):
    """One notification to one recipient (or group chat, or webhook) through one transport.

    `dedupe_key` is unique: one event never makes two rows for the same recipient and
    transport, however often the caller repeats it. `delivery_id` travels with every
    attempt (webhook header, SMS OutId/SessionContext, e-mail Message-ID) so that a
    receiver can drop the duplicates that at-least-once delivery allows.
    """

    delivery_id = models.UUIDField(_("投递编号"), default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    case_number = models.CharField(_("工单编号"), max_length=40, blank=True, db_index=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="notify_messages",
    )
    transport = models.CharField(_("发送方式"), max_length=20, choices=Transport.choices)
    # E-mail address, phone number, Webhook id; empty for the group robots.
    address = models.CharField(_("地址"), max_length=500, blank=True)
    # What this message is about. Null only on messages written before notices existed, whose
    # context is in `extra["context"]` and whose texts were rendered when they were queued.
    notice = models.ForeignKey(Notice, verbose_name=_("通知事件"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="messages")
    # Empty until the first delivery attempt renders them from the notice; then the text sent.
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("内容"), blank=True)
    # What this transport needs beyond the notice: the robots' mentions, the SMS gateway's
    # template. Read it through `payload`, which adds the notice's context.
    extra = models.JSONField(_("附加数据"), db_column="payload", default=dict, blank=True,
                             encoder=DjangoJSONEncoder)
    dedupe_key = models.CharField(max_length=255, unique=True)  # `=` only: no LIKE index (migration 0009)
    urgent = models.BooleanField(_("紧急"), default=False)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now)
    claimed_by = models.CharField(_("处理进程"), max_length=100, blank=True)
    claimed_until = models.DateTimeField(_("租约到期"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    # Set when the template failed to render and the plain default text was used instead.
    render_error = models.TextField(_("模板错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("通知消息")
        verbose_name_plural = _("通知消息")
        indexes = [
            # The worker's two questions: what is due, and whose lease has expired.
            models.Index(
                fields=["next_attempt_at", "id"], name="notify_message_due",
                condition=Q(status__in=["pending", "failed"]),
            ),
            models.Index(
                fields=["claimed_until", "id"], name="notify_message_leased", condition=Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.case_number} → {self.get_transport_display()} {self.address}"

    @property
    def context(self) -> dict[str, Any]:
        """The occurrence's context (plain data), as the notice stored it."""
        if self.notice_id is not None:
            return dict(self.notice.context)  # type: ignore[union-attr]
        return dict((self.extra or {}).get("context", {}))

    @property
    def payload(self) -> dict[str, Any]:
        """What the transport gets besides the texts: {"context": …} and this message's extras."""
        return {**(self.extra or {}), "context": self.context}

    @payload.setter
    def payload(self, value: dict[str, Any]) -> None:
        # Message(payload={...}) keeps working: a "context" given here is used when the
        # message has no notice (rows written directly, e.g. by the benchmarks).
        self.extra = dict(value or {})


class Attempt(models.Model):
    """One try at delivering one message, kept for the administrators (DESIGN §6)."""

    class Outcome(models.TextChoices):
        OK = "ok", _("成功")
        ERROR = "error", _("失败")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_rows",
                                verbose_name=_("通知消息"))
    at = models.DateTimeField(_("时间"), default=timezone.now)
    transport = models.CharField(_("发送方式"), max_length=20, choices=Transport.choices)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    permanent = models.BooleanField(_("不再重试"), default=False)
    error = models.TextField(_("错误"), blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)
    worker = models.CharField(_("处理进程"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("投递记录")
        verbose_name_plural = _("投递记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"#{self.message_id} {self.get_outcome_display()} {self.at:%Y-%m-%d %H:%M:%S}"


class _RenderedInboxIterable(ModelIterable):
    """Model instances whose `title` and `body` are rendered from their notices, a chunk at
    a time (one query for the templates of the chunk)."""

    CHUNK = 100

    def __iter__(self) -> Iterator[InboxItem]:
        from .texts import render_inbox

        chunk: list[InboxItem] = []
        for item in super().__iter__():
            chunk.append(item)
            if len(chunk) >= self.CHUNK:
                render_inbox(chunk)
                yield from chunk
                chunk = []
        if chunk:
            render_inbox(chunk)
            yield from chunk


class InboxItemQuerySet(models.QuerySet["InboxItem"]):
    """Inbox items come out of the database with their texts rendered (see `InboxItem`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._iterable_class = _RenderedInboxIterable


class InboxItemManager(models.Manager.from_queryset(InboxItemQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> InboxItemQuerySet:
        # The notice holds the context and the user's name may be in the text: read them along.
        return super().get_queryset().select_related("notice", "user")


class InboxItem(models.Model):
    """The in-app inbox: always on, written in the caller's transaction, never delivered.

    Its text is rendered from the notice each time the item is read (the current inbox
    template of the event, the context the notice stored), so the item exists — and counts
    as unread — the moment the change that caused it commits, without any rendering there.
    `title` and `body` are filled in memory when items are fetched; they are stored only on
    items written before notices existed (`notice` null).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="inbox_items", verbose_name=_("用户"))
    notice = models.ForeignKey(Notice, verbose_name=_("通知事件"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="inbox_items")
    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    case_number = models.CharField(_("工单编号"), max_length=40, blank=True)
    title = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("内容"), blank=True)
    dedupe_key = models.CharField(max_length=255, unique=True)  # `=` only: no LIKE index (migration 0009)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    objects = InboxItemManager()

    class Meta:
        verbose_name = _("站内信")
        verbose_name_plural = _("站内信")
        indexes = [
            models.Index(fields=["user", "-id"], name="notify_inbox_user"),
            models.Index(fields=["user"], name="notify_inbox_unread", condition=Q(read_at=None)),
        ]

    def __str__(self) -> str:
        return self.title


class Template(models.Model):
    """The text of one event on one transport, editable by administrators.

    Rendered with Django's template language (autoescape off: these are plain texts) from
    the context the caller passed plus `event`, `event_label`, `case_number`, `recipient`
    and `recipients`. A template that fails is recorded in `last_error` and the shipped
    default text is used instead: a notification is never dropped for a template.
    """

    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    transport = models.CharField(_("发送方式"), max_length=20, choices=TemplateTransport.choices)
    subject = models.CharField(_("标题模板"), max_length=200, blank=True)
    body = models.TextField(_("内容模板"))
    # The template approved at the SMS gateway (Aliyun TemplateCode / Tencent TemplateId);
    # blank uses the gateway's default from the SMS transport configuration.
    gateway_template_id = models.CharField(_("短信平台模板编号"), max_length=64, blank=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)
    last_error = models.TextField(_("最近渲染错误"), blank=True)
    last_error_at = models.DateTimeField(_("出错时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知模板")
        verbose_name_plural = _("通知模板")
        ordering = ["event", "transport"]
        constraints = [
            models.UniqueConstraint(fields=["event", "transport"], name="notify_template_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} · {self.get_transport_display()}"

    def clean(self) -> None:
        from .rendering import check_syntax

        errors = {}
        for field in ("subject", "body"):
            problem = check_syntax(getattr(self, field))
            if problem:
                errors[field] = problem
        if errors:
            raise ValidationError(errors)


class Webhook(models.Model):
    """A generic signed webhook to another system (`huiyin webhook add`)."""

    url = models.URLField(_("地址"), max_length=500)
    # Sealed at rest (org.fields) and never shown again once saved (the admin's field is write-only).
    secret = SealedTextField(_("签名密钥"))
    # Event names; empty means every event.
    events = models.JSONField(_("订阅事件"), default=list, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("Webhook")
        verbose_name_plural = _("Webhook")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)

    def clean(self) -> None:
        unknown = sorted(set(self.events or []) - set(Event.values))
        if unknown:
            raise ValidationError({"events": _("未知事件: %s") % ", ".join(unknown)})
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValidationError({"url": _("只支持 http(s) 地址")})
        from .outbound import OutboundRefused, check_url

        try:
            check_url(self.url)
        except OutboundRefused:
            raise ValidationError({"url": _("只允许公网地址(内网地址须列入 HUIYIN_OUTBOUND_ALLOW)")}) from None


class Preference(models.Model):
    """A user's choice for one personal transport: turn it off, or send to another address."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notify_preferences", verbose_name=_("用户"))
    transport = models.CharField(_("发送方式"), max_length=20,
                                 choices=[(t.value, t.label) for t in PERSONAL_TRANSPORTS])
    enabled = models.BooleanField(_("接收"), default=True)
    address = models.CharField(_("接收地址"), max_length=200, blank=True,
                               help_text=_("留空则使用用户资料中的邮箱或手机"))

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")
        constraints = [
            models.UniqueConstraint(fields=["user", "transport"], name="notify_preference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_transport_display()}"


# Which transports are on when the organisation has not configured them: e-mail goes
# through Django's EMAIL_BACKEND (a file in development) and SMS through the file gateway;
# the robots need their webhook addresses first.
DEFAULT_ENABLED = {Transport.EMAIL: True, Transport.SMS: True}

# The options each transport reads (documented here, validated in `clean`).
TRANSPORT_OPTIONS: dict[str, dict[str, str]] = {
    Transport.EMAIL: {"from_email": "发件人, 默认 DEFAULT_FROM_EMAIL",
                      "mailer": "settings.MAILERS 中的别名, 默认 default"},
    Transport.SMS: {
        "gateway": "file(默认) | aliyun | tencent",
        "path": "file: 文件路径, 默认 VAR_DIR/sms/outbox.log",
        "endpoint": "aliyun/tencent: 接口地址, 默认官方地址",
        "access_key_id": "aliyun: AccessKey ID",
        "access_key_secret": "aliyun: AccessKey Secret",
        "secret_id": "tencent: SecretId",
        "secret_key": "tencent: SecretKey",
        "region": "aliyun: RegionId (cn-hangzhou) / tencent: X-TC-Region (ap-guangzhou)",
        "sms_sdk_app_id": "tencent: SmsSdkAppId",
        "sign_name": "短信签名",
        "template_id": "默认短信模板编号 (TemplateCode / TemplateId)",
        "template_params": "模板参数名列表, 默认 [\"case_number\", \"event_label\"]",
    },
    Transport.WECOM: {"url": "群机器人 Webhook 地址 (含 key)", "msgtype": "text(默认) | markdown",
                      "events": "只推送这些事件, 默认全部"},
    Transport.DINGTALK: {"url": "群机器人 Webhook 地址 (含 access_token)", "secret": "加签密钥 SEC…",
                         "msgtype": "text(默认) | markdown", "events": "只推送这些事件, 默认全部"},
    Transport.FEISHU: {"url": "群机器人 Webhook 地址", "secret": "签名校验密钥(可选)",
                       "events": "只推送这些事件, 默认全部"},
}


class TransportConfig(models.Model):
    """The organisation's switch and gateway settings for one transport.

    No row means the default (`DEFAULT_ENABLED`, empty options). Options are read at send
    time, so a corrected secret applies to the messages still waiting.
    """

    transport = models.CharField(_("发送方式"), max_length=20, unique=True,
                                 choices=[(t.value, t.label) for t in Transport if t != Transport.WEBHOOK])
    enabled = models.BooleanField(_("启用"), default=False)
    # Gateway keys and robot addresses (which carry their tokens): sealed at rest, masked in the admin.
    options = SealedJSONObjectField(_("参数"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("发送方式配置")
        verbose_name_plural = _("发送方式配置")
        ordering = ["transport"]

    def __str__(self) -> str:
        return self.get_transport_display()

    def clean(self) -> None:
        if not isinstance(self.options, dict):
            raise ValidationError({"options": _("参数必须是 JSON 对象")})
        known = TRANSPORT_OPTIONS.get(self.transport, {})
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            raise ValidationError({"options": _("未知参数: %s") % ", ".join(unknown)})
        events = self.options.get("events", [])
        if not isinstance(events, list) or set(events) - set(Event.values):
            raise ValidationError({"options": _("events 必须是已知事件名的列表")})
        if self.transport in ROBOT_TRANSPORTS and self.enabled and not self.options.get("url"):
            raise ValidationError({"options": _("启用群机器人需要填写 url")})
        if self.transport == Transport.SMS:
            gateway = self.options.get("gateway", "file")
            if gateway not in ("file", "aliyun", "tencent"):
                raise ValidationError({"options": _("gateway 只能是 file、aliyun 或 tencent")})
            if self.options.get("path"):
                from pathlib import Path

                from .channels.sms import inside_var_dir

                if not inside_var_dir(Path(str(self.options["path"]))):
                    raise ValidationError({"options": _("path 必须位于数据目录 HUIYIN_VAR_DIR 之内")})
        from .outbound import OutboundRefused, check_url

        for key in ("url", "endpoint"):
            if self.options.get(key):
                try:
                    check_url(str(self.options[key]))
                except OutboundRefused:
                    raise ValidationError({"options": _("只允许公网地址(内网地址须列入 HUIYIN_OUTBOUND_ALLOW)")}) from None

    # A few seconds of caching: the worker reads these for every message.
    _cache: dict[str, tuple[float, bool, dict[str, Any]]] = {}
    CACHE_SECONDS = 5.0

    @classmethod
    def lookup(cls, transport: str) -> tuple[bool, dict[str, Any]]:
        """(enabled, options) for a transport, cached for a few seconds per process.

        One query reads every transport's row, so enqueue asks the database once."""
        hit = cls._cache.get(transport)
        if hit is None or hit[0] <= time.monotonic():
            rows = {r.transport: r for r in cls.objects.all()}
            expires = time.monotonic() + cls.CACHE_SECONDS
            for t in Transport:
                row = rows.get(t.value)
                if row is None:
                    cls._cache[t.value] = (expires, DEFAULT_ENABLED.get(t, False), {})
                else:
                    cls._cache[t.value] = (expires, row.enabled, dict(row.options or {}))
            hit = cls._cache[transport]
        return hit[1], dict(hit[2])

    @classmethod
    def clear_cache(cls) -> None:
        cls._cache.clear()

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self.clear_cache()


class NotifySettings(models.Model):
    """The organisation's notification settings: one row (pk=1).

    Quiet hours hold non-urgent SMS and robot messages until the quiet period ends; the
    inbox, e-mail and webhooks are never held. Off by default.
    """

    quiet_hours_enabled = models.BooleanField(_("启用免打扰时段"), default=False)
    quiet_start = models.TimeField(_("免打扰开始"), default=dtime(22, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=dtime(8, 0))

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self) -> str:
        return str(_("通知设置"))

    @classmethod
    def current(cls) -> NotifySettings:
        row = cls.objects.filter(pk=1).first()
        return row if row is not None else cls(pk=1)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    def quiet_until(self, now: datetime) -> datetime | None:
        """When `now` falls in quiet hours, the moment they end (Beijing time); else None."""
        if not self.quiet_hours_enabled or self.quiet_start == self.quiet_end:
            return None
        local = timezone.localtime(now)
        t = local.time()
        start, end = self.quiet_start, self.quiet_end
        if start < end:
            inside = start <= t < end
        else:  # the period spans midnight, e.g. 22:00–08:00
            inside = t >= start or t < end
        if not inside:
            return None
        release = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if release <= local:
            release += timedelta(days=1)
        return release
