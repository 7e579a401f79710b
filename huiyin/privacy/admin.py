"""Admin pages of the privacy app: the data-subject request queue (registered, answered, closed
here; each step audited) and the export requests (read-only: decided on their own page)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from huiyin.org.models import User

from . import services
from .models import ExportRequest, SubjectRequest, SubjectStatus


class SubjectRequestForm(forms.ModelForm):
    class Meta:
        model = SubjectRequest
        fields = ("kind", "name", "phone", "id_number", "email", "details", "received_at", "outcome")  # the editable

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None:  # registered by the service (save_model), which refuses the same
            problem = services.subject_request_problem(
                kind=data.get("kind") or "", phone=data.get("phone") or "", id_number=data.get("id_number") or "",
                email=data.get("email") or "")
            if problem is not None:
                raise forms.ValidationError(problem)
        return data


@admin.register(SubjectRequest)
class SubjectRequestAdmin(admin.ModelAdmin):
    form = SubjectRequestForm
    list_display = ("id", "kind", "received_at", "due_at", "status", "handled_by")
    list_filter = ("status", "kind")
    ordering = ("status", "due_at")
    fields = ("kind", "name", "phone", "id_number", "email", "details", "received_at", "due_at", "status", "outcome")
    readonly_fields = ("due_at", "status")
    actions = ["copy_data", "erase_closed_cases", "close_done"]

    def save_model(self, request: HttpRequest, obj: SubjectRequest, form: Any, change: bool) -> None:
        user: User = request.user  # type: ignore[assignment]
        if change:
            super().save_model(request, obj, form, change)
            return
        made = services.subject_request_create(
            kind=obj.kind, actor=user, name=obj.name or "", phone=obj.phone or "", id_number=obj.id_number or "",
            email=obj.email or "", details=obj.details or "", received_at=obj.received_at)
        obj.pk = made.pk
        obj.due_at = made.due_at

    @admin.action(description="导出本人信息副本(JSON)")
    def copy_data(self, request: HttpRequest, queryset: QuerySet[SubjectRequest]) -> HttpResponse | None:
        user: User = request.user  # type: ignore[assignment]
        data = [services.subject_copy(r, actor=user) for r in queryset]
        response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="subject-data.json"'
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="删除本人已办结工单中的个人信息")
    def erase_closed_cases(self, request: HttpRequest, queryset: QuerySet[SubjectRequest]) -> None:
        user: User = request.user  # type: ignore[assignment]
        for r in queryset:
            erased, still_open = services.subject_erase(r, actor=user)
            messages.info(request, f"#{r.pk}: 已删除 {len(erased)} 件;未办结 {len(still_open)} 件")

    @admin.action(description="标记为已办结")
    def close_done(self, request: HttpRequest, queryset: QuerySet[SubjectRequest]) -> None:
        user: User = request.user  # type: ignore[assignment]
        for r in queryset.filter(status=SubjectStatus.OPEN):
            services.subject_close(r, actor=user, outcome=r.outcome or "已答复")


@admin.register(ExportRequest)
class ExportRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "requester", "created_at", "status", "decided_by", "used_at", "rows")
    list_filter = ("status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
