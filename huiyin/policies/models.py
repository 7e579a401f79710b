"""Policies: the organisation's own rules, stored as versioned data.

A case keeps the policy version it was opened under, so changing a rule never
rewrites history. A new version is a new row; the active one is flagged.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Policy(models.Model):
    name = models.SlugField(_("名称"), max_length=50)
    version = models.PositiveIntegerField(_("版本"), default=1)
    title = models.CharField(_("标题"), max_length=200, blank=True)
    config = models.JSONField(_("配置"), default=dict)
    active = models.BooleanField(_("生效"), default=False)
    # Where this version came from: a shipped preset, a file of the organisation's, or an edit
    # in the admin pages (loading a shipped preset over the organisation's own edits is refused
    # with what differs, unless forced).
    origin = models.CharField(_("来源"), max_length=10, default="preset",
                              choices=[("preset", _("预置")), ("file", _("文件")), ("admin", _("后台编辑"))])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("处理规则")
        verbose_name_plural = _("处理规则")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="policy_name_version"),
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_policy"),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.name} v{self.version}"
