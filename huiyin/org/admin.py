from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import AuditEntry, DutyShift, Membership, Unit, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "display_name", "email", "is_active")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Huiyin", {"fields": ("display_name", "phone")}))


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "customers", "active")
    search_fields = ("name", "code")
    ordering = ("path",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "target", "actor", "ip")
    list_filter = ("action",)
    search_fields = ("target", "actor__username")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    """值班安排: the roster that routes with `duty: true` read (docs/policies.md)."""

    list_display = ("unit", "user", "starts_at", "ends_at", "note")
    list_filter = ("unit",)
    search_fields = ("user__username", "user__display_name", "unit__name")
    autocomplete_fields = ("unit", "user")
    date_hierarchy = "starts_at"
