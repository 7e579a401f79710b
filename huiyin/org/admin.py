from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Membership, Unit, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "display_name", "email", "is_active")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Huiyin", {"fields": ("display_name", "phone")}))


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "active")
    search_fields = ("name", "code")
    ordering = ("path",)
