"""Records and personal data over their life (DESIGN §8, issue 11 items 11–12): requests to export
case records (with their approval), and data-subject requests (PIPL: access, copy, correction,
deletion) with their deadline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huiyin.org.fields import SealedTextField


class ExportStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")
    USED = "used", _("已下载")


class ExportRequest(models.Model):
    """An export of case records that waits for a leader's approval (投诉记录要集中管理, 未经批准不得外借):
    the list's filters and the reason as asked; once approved, the file is served to the requester
    once, within a day (`privacy.exports`)."""

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    query = models.CharField(max_length=1000, blank=True)  # the list's filters, as a query string
    reason = models.CharField(_("导出原因"), max_length=500)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.REQUESTED)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("导出申请")
        verbose_name_plural = _("导出申请")
        indexes = [models.Index(fields=["status", "id"], name="export_request_status")]

    def __str__(self) -> str:
        return f"export request {self.pk} ({self.status})"


class SubjectKind(models.TextChoices):
    ACCESS = "access", _("查阅")
    COPY = "copy", _("复制")
    CORRECTION = "correction", _("更正")
    DELETION = "deletion", _("删除")


class SubjectStatus(models.TextChoices):
    OPEN = "open", _("处理中")
    DONE = "done", _("已办结")
    REFUSED = "refused", _("不予办理")


class SubjectRequest(models.Model):
    """A person asks what Huiyin holds about them, for a copy, a correction or deletion (个人信息
    保护法 第四十四至四十七条). The person's identifiers are sealed like a complainant's, with keyed
    hashes to find their cases; the answer is due `privacy.requests` after receipt (30 days, moved
    to the next working day when it ends on a holiday)."""

    kind = models.CharField(_("类型"), max_length=12, choices=SubjectKind.choices)
    name = SealedTextField(_("姓名"), blank=True)
    phone = SealedTextField(_("电话"), blank=True)
    id_number = SealedTextField(_("证件号"), blank=True)
    email = SealedTextField(_("邮箱"), blank=True)
    details = SealedTextField(_("请求内容"), blank=True)  # what to correct, how to send the copy …
    phone_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    id_number_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    email_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    name_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    received_at = models.DateTimeField(_("收到时间"))
    due_at = models.DateTimeField(_("答复期限"))
    provisional = models.BooleanField(default=False)
    status = models.CharField(_("状态"), max_length=10, choices=SubjectStatus.choices, default=SubjectStatus.OPEN)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(_("处理结果"), blank=True)  # what was done: case numbers, not personal data
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("个人信息权利请求")
        verbose_name_plural = _("个人信息权利请求")
        indexes = [models.Index(fields=["due_at"], condition=Q(status="open"), name="subject_request_open_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def overdue(self) -> bool:
        from django.utils import timezone

        return self.status == SubjectStatus.OPEN and self.due_at < timezone.now()
