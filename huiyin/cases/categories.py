"""The category tree, as a loaded preset defines it."""

from __future__ import annotations

from typing import Any

from .models import Category


def categories_load(items: list[dict[str, Any]]) -> int:
    """Make the tree `items` (code, name, class, compensation, children) the active tree:
    upsert every node, deactivate categories the preset does not name (cases keep theirs)."""
    seen: list[str] = []

    def put(nodes: list[dict[str, Any]], parent: Category | None) -> None:
        for pos, item in enumerate(nodes):
            cat, _ = Category.objects.update_or_create(
                code=item["code"],
                defaults={"name": item["name"], "parent": parent, "position": pos, "active": True,
                          "case_class": str(item.get("class", "")), "compensation": str(item.get("compensation", ""))},
            )
            seen.append(cat.code)
            put(item.get("children", []), cat)

    put(items, None)
    Category.objects.exclude(code__in=seen).update(active=False)
    from .grading import clear_cache

    clear_cache()
    return len(seen)


def on_preset_loaded(sender: object, policy: object, data: dict[str, Any], **kwargs: object) -> None:
    if data.get("categories"):
        categories_load(data["categories"])
