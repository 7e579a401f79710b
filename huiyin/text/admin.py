from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import TextModel


@admin.register(TextModel)
class TextModelAdmin(admin.ModelAdmin):
    """Trained models are written by `huiyin text train|retrain`; here they are only read."""

    list_display = ("name", "version", "target", "rows", "created_at")
    exclude = ("blob",)
    readonly_fields = ("name", "version", "target", "rows", "labels", "metrics", "config", "created_by", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TextModel | None = None) -> bool:
        return False
