"""Admin for the calendar: years, their days, missing years, and a calendar-file import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from .models import CalendarDay, CalendarYear, MissingCalendarYear
from .services import CalendarFileError, calendar_import_year, parse_calendar_file


class CalendarImportForm(forms.Form):
    file = forms.FileField(label="日历文件", required=False, help_text="UTF-8 文本或 CSV 文件")
    text = forms.CharField(
        label="或直接粘贴", required=False, widget=forms.Textarea(attrs={"rows": 16, "cols": 70})
    )
    note = forms.CharField(label="备注", required=False, max_length=200, help_text="例如通知文号")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            try:
                data["content"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("文件不是 UTF-8 编码") from None
        else:
            data["content"] = data.get("text") or ""
        if not data["content"].strip():
            raise forms.ValidationError("请上传文件或粘贴内容")
        return data


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    ordering = ("date",)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = (
        "year",
        "source",
        "day_count",
        "imported_at",
        "imported_by_id",
        "note",
        "updated_at",
    )
    readonly_fields = ("source", "imported_at", "imported_by_id", "updated_at")
    inlines = (CalendarDayInline,)

    @admin.display(description="天数")
    def day_count(self, obj: CalendarYear) -> int:
        return obj.days.count()

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name=f"{opts.app_label}_{opts.model_name}_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        missing = list(
            MissingCalendarYear.objects.filter(resolved_at__isnull=True).values_list(
                "year", flat=True
            )
        )
        if missing and request.method == "GET":
            years = "、".join(str(y) for y in missing)
            messages.warning(request, f"以下年份的节假日安排尚未导入,相关时限按周末暂估: {years}")
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        errors: list[Any] = []
        form = CalendarImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                parsed = parse_calendar_file(form.cleaned_data["content"])
                calendar_import_year(
                    parsed, actor_id=request.user.pk, note=form.cleaned_data["note"]
                )
            except CalendarFileError as exc:
                errors = exc.errors
            else:
                holidays = sum(1 for _, kind, _ in parsed.days if kind == "holiday")
                messages.success(
                    request,
                    f"已导入 {parsed.year} 年: {holidays} 个节假日, {len(parsed.days) - holidays} 个调休上班日",
                )
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "导入日历文件",
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/sla/calendaryear/import.html", context)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "name", "year")
    list_filter = ("year", "kind")
    date_hierarchy = "date"


@admin.register(MissingCalendarYear)
class MissingCalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "first_seen_at", "last_seen_at", "resolved_at")
    readonly_fields = ("year", "first_seen_at", "last_seen_at", "resolved_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
