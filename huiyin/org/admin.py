"""The admin pages of accounts: users with their roles (each change audited: org.audit), API tokens
(listed, revoked), the audit log (read-only). The admin's actions call org.accounts, as the
`huiyin user` commands do."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import accounts
from .models import ApiToken, AuditEntry, DutyShift, Membership, Unit, User
from .tokens import token_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "display_name", "email", "is_active", "last_login")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Huiyin", {"fields": ("display_name", "phone")}))
    actions = ["disable", "sign_out_everywhere", "reset_mfa", "unlock"]

    @admin.action(description="停用账号(结束会话并吊销接口令牌)")
    def disable(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            accounts.user_disable(user)
        messages.success(request, f"{queryset.count()} 个账号已停用")

    @admin.action(description="结束全部会话与接口令牌")
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            accounts.user_signout(user)
        messages.success(request, f"{queryset.count()} 个账号的会话已结束")

    @admin.action(description="重置动态口令设备")
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            accounts.mfa_reset(user)
        messages.success(request, f"{queryset.count()} 个账号的动态口令已重置")

    @admin.action(description="解除登录锁定")
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            accounts.user_unlock(user.username)
        messages.success(request, f"{queryset.count()} 个账号已解锁")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "customers", "active")
    search_fields = ("name", "code")
    ordering = ("path",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be listed and revoked, never created or edited here (only their digest is stored)."""

    list_display = ("id", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason",)
    search_fields = ("user__username", "name")
    readonly_fields = ("user", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "revoked_reason")
    exclude = ("digest", "user_mark")
    actions = ["revoke"]

    @admin.action(description="吊销所选令牌")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from .audit import audit

        n = 0
        for token in queryset.select_related("user"):
            if token_revoke(token, reason="admin"):
                n += 1
                audit("token_revoked", target=token.user.username, details={"token": token.pk, "by": "admin"},
                      request=request)
        messages.success(request, f"{n} 个令牌已吊销")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        actions = super().get_actions(request, *args, **kwargs)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "target", "actor_name", "ip")
    list_filter = ("action",)
    search_fields = ("target", "actor_name")
    exclude = ("actor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    """值班安排: the roster that routes with `duty: true` read (docs/policies.md)."""

    list_display = ("unit", "user", "starts_at", "ends_at", "note")
    list_filter = ("unit",)
    search_fields = ("user__username", "user__display_name", "unit__name")
    autocomplete_fields = ("unit", "user")
    date_hierarchy = "starts_at"
