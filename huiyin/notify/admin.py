"""Admin pages: templates, webhooks, the outbox (with a retry action), attempts, preferences,
transport configuration and the organisation's notification settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .models import (
    TRANSPORT_OPTIONS,
    Attempt,
    InboxItem,
    Message,
    Notice,
    NotifySettings,
    Preference,
    Template,
    TransportConfig,
    Webhook,
)
from .services import message_retry


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["event", "transport", "subject", "gateway_template_id", "has_error", "updated_at"]
    list_filter = ["transport", "event"]
    readonly_fields = ["last_error", "last_error_at", "updated_at"]
    search_fields = ["subject", "body"]

    @admin.display(boolean=True, description=_("渲染出错"))
    def has_error(self, obj: Template) -> bool:
        return bool(obj.last_error)

    def save_model(self, request: HttpRequest, obj: Template, form: Any, change: bool) -> None:
        obj.last_error, obj.last_error_at = "", None  # an edit clears the old report
        super().save_model(request, obj, form, change)


MASK = "******"
# Options that are secrets, or carry one (a robot's address holds its access token): never shown
# again once saved; the form shows MASK, and MASK (or nothing) sent back keeps the stored value.
SECRET_OPTIONS = {"access_key_secret", "secret_key", "secret", "url"}


class WebhookForm(forms.ModelForm):
    secret = forms.CharField(label=_("签名密钥"), required=False, strip=False,
                             widget=forms.PasswordInput(render_value=False),
                             help_text=_("只可写入: 保存后不再显示; 留空则保留原密钥"))

    class Meta:
        model = Webhook
        fields = ["url", "secret", "events", "active", "description"]

    def clean_secret(self) -> str:
        value: str = self.cleaned_data.get("secret") or ""
        if not value and self.instance.pk:
            return str(self.instance.secret)
        if not value:
            raise forms.ValidationError(_("新建 Webhook 需要签名密钥"))
        return value


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["id", "url", "events", "active", "created_at"]
    list_filter = ["active"]


class TransportConfigForm(forms.ModelForm):
    class Meta:
        model = TransportConfig
        fields = ["transport", "enabled", "options"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["options"] = {k: (MASK if k in SECRET_OPTIONS and v else v)
                                       for k, v in (self.instance.options or {}).items()}

    def clean_options(self) -> Any:
        value = self.cleaned_data.get("options") or {}
        if not isinstance(value, dict):
            return value
        old = (self.instance.options or {}) if self.instance.pk else {}
        return {k: (old.get(k, "") if k in SECRET_OPTIONS and v in (MASK, "") else v) for k, v in value.items()}


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ["at", "outcome", "permanent", "error", "duration_ms", "worker"]
    readonly_fields = ["at", "outcome", "permanent", "error", "duration_ms", "worker"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description=_("立即重试所选的失败消息"))
def retry_messages(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Message]) -> None:
    done = sum(message_retry(pk) for pk in queryset.values_list("pk", flat=True))
    modeladmin.message_user(request, _("已重新排队 %d 条消息(只有失败或投递失败的消息会重试)") % done,
                            messages.SUCCESS if done else messages.WARNING)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "case_number", "transport", "recipient", "address", "status",
                    "attempts", "next_attempt_at", "sent_at", "short_error"]
    list_filter = ["status", "transport", "event"]
    # The outbox grows to millions of rows: whole values only, which the indexes answer (a
    # `LIKE '%…%'` would read every row), and no count of the whole table on every page.
    search_fields = ["case_number__exact", "address__exact", "=delivery_id"]
    search_help_text = _("完整的工单编号、地址或投递编号")
    show_full_result_count = False
    actions = [retry_messages]
    inlines = [AttemptInline]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Message._meta.fields]
    list_select_related = ["recipient"]
    raw_id_fields = ["notice"]

    @admin.display(description=_("最近错误"))
    def short_error(self, obj: Message) -> str:
        return obj.last_error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages are written by enqueue only


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["id", "message", "at", "transport", "outcome", "permanent", "duration_ms", "error"]
    list_filter = ["outcome", "transport"]
    readonly_fields = [f.name for f in Attempt._meta.fields]
    list_select_related = ["message"]
    show_full_result_count = False  # as big as the outbox, and bigger

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "case_number", "urgent", "created_at"]
    list_filter = ["event"]
    search_fields = ["case_number__exact", "=dedupe_key"]  # whole values, as the outbox's
    search_help_text = _("完整的工单编号或去重键")
    show_full_result_count = False
    readonly_fields = [f.name for f in Notice._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by enqueue only


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "event", "case_number", "title", "created_at", "read_at"]
    list_filter = ["event"]
    search_fields = ["case_number__exact"]  # whole numbers; titles are rendered when read, not stored
    search_help_text = _("完整的工单编号")
    show_full_result_count = False
    readonly_fields = [f.name for f in InboxItem._meta.fields]
    raw_id_fields = ["notice"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "transport", "enabled", "address"]
    list_filter = ["transport", "enabled"]
    raw_id_fields = ["user"]


@admin.register(TransportConfig)
class TransportConfigAdmin(admin.ModelAdmin):
    form = TransportConfigForm
    list_display = ["transport", "enabled", "updated_at"]
    readonly_fields = ["options_help"]

    @admin.display(description=_("可用参数"))
    def options_help(self, obj: TransportConfig) -> str:
        known = TRANSPORT_OPTIONS.get(obj.transport, {}) if obj.transport else {}
        return format_html_join(mark_safe("<br>"), "<code>{}</code>: {}", sorted(known.items())) or "-"  # nosec B308 B703


@admin.register(NotifySettings)
class NotifySettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "quiet_hours_enabled", "quiet_start", "quiet_end"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not NotifySettings.objects.exists()

