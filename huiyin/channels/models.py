"""The channels' own rows: upstream and regulator platforms with the cases they transferred to
us (and the report of each result back), the mailboxes polled for e-mail intake and every
message read from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class UpstreamKind(models.TextChoices):
    UPSTREAM = "upstream", _("上级转办（省中心、集团热线）")
    REGULATOR = "regulator", _("监管转办（12315、工信部、监管局）")


class ReportFormat(models.TextChoices):
    """How an upstream wants results: our signed JSON, or a hotline platform's JSON (ticketId,
    handleResult … and an answer {"code": "0"} that acknowledges it)."""

    HUIYIN = "huiyin", _("回音 JSON（HMAC 签名）")
    HOTLINE = "hotline", _("热线平台 JSON（code=0 确认）")


class Upstream(models.Model):
    """A provincial centre, a group hotline or a regulator platform: it pushes cases through the
    API with its integration account (`user`) and wants each result back at `report_url`."""

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=UpstreamKind.choices, default=UpstreamKind.UPSTREAM)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="upstream",
                                verbose_name=_("接口账号"))
    report_url = models.URLField(_("结果回传地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=200)
    format = models.CharField(_("回传格式"), max_length=20, choices=ReportFormat.choices, default=ReportFormat.HUIYIN)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("上级平台")
        verbose_name_plural = _("上级平台")

    def __str__(self) -> str:
        return self.name


class ReportState(models.TextChoices):
    NONE = "", _("未到回传")
    PENDING = "pending", _("待回传")
    SENT = "sent", _("已确认")
    DEAD = "dead", _("回传失败")


class Transfer(models.Model):
    """A case an upstream transferred to us, with its reference and deadline, and the report of
    its result back: written when the case ends, sent by the worker until the upstream
    acknowledges it (retried with back-off; a closing after a reopening is reported again)."""

    upstream = models.ForeignKey(Upstream, on_delete=models.PROTECT, related_name="transfers")
    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="transfer")
    reference = models.CharField(_("上级工单号"), max_length=64)
    due_at = models.DateTimeField(_("上级时限"), null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    report_state = models.CharField(max_length=10, choices=ReportState.choices, blank=True, default="")
    report_body = models.JSONField(default=dict, blank=True)  # what is sent, fixed when the report is written
    report_attempts = models.PositiveIntegerField(default=0)
    report_next_at = models.DateTimeField(null=True, blank=True)
    report_last_error = models.TextField(blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    reported_closed_at = models.DateTimeField(null=True, blank=True)  # the closing the last report was about

    class Meta:
        verbose_name = _("转办工单")
        verbose_name_plural = _("转办工单")
        constraints = [models.UniqueConstraint(fields=["upstream", "reference"], name="transfer_reference_once")]
        indexes = [
            models.Index(fields=["report_next_at", "id"], condition=Q(report_state="pending"), name="transfer_due"),
            models.Index(fields=["id"], condition=~Q(report_state="pending"), name="transfer_unreported"),
        ]

    def __str__(self) -> str:
        return f"{self.upstream_id}:{self.reference}"


class Mailbox(models.Model):
    """An IMAP mailbox polled for e-mail intake. New messages become cases on the e-mail channel
    (replies thread onto their case); a message is flagged in the mailbox only after its case
    has committed."""

    name = models.CharField(_("名称"), max_length=100)
    host = models.CharField(_("IMAP 服务器"), max_length=200)
    port = models.PositiveIntegerField(_("端口"), default=993)
    ssl = models.BooleanField(_("SSL"), default=True)
    username = models.CharField(_("用户名"), max_length=200)
    password = models.CharField(_("密码"), max_length=200)
    folder = models.CharField(_("文件夹"), max_length=100, default="INBOX")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("受理单位"))
    active = models.BooleanField(_("启用"), default=True)
    polled_at = models.DateTimeField(_("上次收信"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)

    class Meta:
        verbose_name = _("收信邮箱")
        verbose_name_plural = _("收信邮箱")

    def __str__(self) -> str:
        return self.name


class InboundState(models.TextChoices):
    CASE = "case", _("已登记工单")
    THREADED = "threaded", _("已归入工单")
    IGNORED = "ignored", _("已忽略（自动回复、退信、循环）")
    FAILED = "failed", _("无法解析，待人工处理")


class InboundMessage(models.Model):
    """Every message read from a mailbox, once (by mailbox and Message-ID): what became of it. A
    message that cannot be parsed is kept whole (`raw`) and reported, never lost."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=InboundState.choices)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sender = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("来信")
        verbose_name_plural = _("来信")
        constraints = [models.UniqueConstraint(fields=["mailbox", "message_id"], name="inbound_message_once")]
        indexes = [models.Index(fields=["state", "id"], condition=Q(state="failed"), name="inbound_failed")]

    def __str__(self) -> str:
        return f"{self.mailbox_id}/{self.uid} {self.state}"
