"""Django admin for the configurable parts of cases (the category tree)."""

from django.contrib import admin

from .models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "parent", "case_class", "compensation", "active", "position")
    list_filter = ("active",)
    search_fields = ("name", "code")
