from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Article, ReplyTemplate
from .services import article_save


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "issuing_body", "effective_from", "expires_on", "review_on", "owner")
    list_filter = ("status", "category")
    search_fields = ("title", "body", "issuing_body", "reference")
    raw_id_fields = ("proposed_from", "corrects")
    readonly_fields = ("proposed_by", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        article_save(obj)  # the article and its search-index row together


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "purpose", "kind", "category", "active", "position")
    list_filter = ("purpose", "kind", "active")
