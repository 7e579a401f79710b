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
