"""Knowledge articles (营销政策, 专卖管理, 货源分配, tariffs, claims rules …) and standard replies
(标准服务用语) as templates with case fields (DESIGN §12)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    REVIEW = "review", _("待审核")  # proposed by an agent after a consultation
    PUBLISHED = "published", _("已发布")
    RETIRED = "retired", _("已停用")


class Article(models.Model):
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), max_length=50000)
    category = models.ForeignKey("cases.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("分类"))
    issuing_body = models.CharField(_("发文单位"), max_length=200, blank=True)
    reference = models.CharField(_("文号"), max_length=100, blank=True)
    effective_from = models.DateField(_("生效日期"), null=True, blank=True)
    expires_on = models.DateField(_("失效日期"), null=True, blank=True)  # no longer suggested from this day
    review_on = models.DateField(_("复审日期"), null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("负责人"))
    status = models.CharField(_("状态"), max_length=20, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    # An agent's proposal after a consultation: the case it came from and what it corrects.
    proposed_from = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", verbose_name=_("来源工单"))
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections",
                                 verbose_name=_("更正条目"))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("提议人"))
    expiry_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("知识条目")
        verbose_name_plural = _("知识库")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "expires_on"], name="article_status_expiry")]

    def __str__(self) -> str:
        return self.title


class ArticleText(models.Model):
    """An article's words for the full-text index (same index as the cases': huiyin.text.index)."""

    article = models.OneToOneField(Article, primary_key=True, on_delete=models.CASCADE, related_name="+")
    tokens = models.TextField(blank=True)

    class Meta:
        verbose_name = _("知识检索索引")
        verbose_name_plural = _("知识检索索引")

    def __str__(self) -> str:
        return f"article {self.article_id}"


class Purpose(models.TextChoices):
    REPLY = "reply", _("答复")
    CALLBACK = "callback", _("回访")
    PHRASE = "phrase", _("服务用语")


class ReplyTemplate(models.Model):
    """A standard reply or service phrase. `body` may name case fields in braces — {number},
    {subject}, {complainant}, {unit}, {received_date}, {today}, {category} — filled from the case
    (`services.render_template`); a reporter's (举报) name is never filled in."""

    name = models.CharField(_("名称"), max_length=100)
    purpose = models.CharField(_("用途"), max_length=20, choices=Purpose.choices, default=Purpose.REPLY)
    kind = models.CharField(_("工单类型"), max_length=20, blank=True)  # blank: every kind
    category = models.ForeignKey("cases.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("分类"))
    body = models.TextField(_("内容"), max_length=5000)
    active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("标准用语")
        verbose_name_plural = _("标准用语")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name
