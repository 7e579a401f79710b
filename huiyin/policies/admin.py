"""Administrators read and edit the policy as YAML; a save makes a new version (cases keep
the version they were opened under) and is written to the audit log with what changed."""

from __future__ import annotations

from typing import Any

import yaml
from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect

from huiyin.org.audit import audit

from .models import Policy
from .presets import PresetError, preset_check
from .services import policy_load_preset


class PolicyForm(forms.ModelForm):
    yaml_text = forms.CharField(label="规则配置 (YAML)", widget=forms.Textarea(attrs={"rows": 40, "cols": 120,
                                                                                    "style": "font-family: monospace"}))

    class Meta:
        model = Policy
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["yaml_text"].initial = yaml.safe_dump(self.instance.config, allow_unicode=True, sort_keys=False)

    def clean_yaml_text(self) -> str:
        text = self.cleaned_data["yaml_text"]
        try:
            preset_check(text)
        except PresetError as exc:
            raise forms.ValidationError(f"第 {exc.line} 行: {exc.reason}") from None
        return text


def _rule_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    before = {r["name"]: r for r in old.get("rules", []) or []}
    after = {r["name"]: r for r in new.get("rules", []) or []}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(n for n in set(before) & set(after) if before[n] != after[n]),
    }


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ("name", "version", "title", "active", "created_at")
    list_filter = ("name", "active")
    readonly_fields = ("name", "version", "active", "created_at")

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return False  # cases refer to their version for ever

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a policy starts from a preset (huiyin preset load); edits make new versions

    def save_model(self, request: HttpRequest, obj: Policy, form: PolicyForm, change: bool) -> None:
        text = form.cleaned_data["yaml_text"]
        old = Policy.objects.get(pk=obj.pk).config if obj.pk else {}
        new = policy_load_preset(preset_check(text)["name"], text=text, origin="admin")
        audit("policy_change", actor=request.user, target=f"{new.name} v{new.version}",  # type: ignore[arg-type]
              details={"rules": _rule_diff(old, new.config), "from_version": obj.version if obj.pk else None},
              request=request)
        self._saved = new
        messages.info(request, f"已保存为新版本 {new.name} v{new.version} 并启用;已有工单仍按原版本处理。")

    def response_change(self, request: HttpRequest, obj: Policy) -> HttpResponseRedirect:
        saved = getattr(self, "_saved", obj)
        return HttpResponseRedirect(f"../../{saved.pk}/change/")
