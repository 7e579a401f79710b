"""`org.access`'s subtrees: the units a role held in a unit reaches."""

from __future__ import annotations

from typing import Any

import pytest

from huiyin.org.access import subtree_ids
from huiyin.org.models import Unit

pytestmark = pytest.mark.django_db


def _below(*units: Unit) -> list[int]:
    """The definition: every unit whose path starts with one of theirs, in tree order."""
    return [u.pk for u in Unit.objects.order_by("path") if any(u.path.startswith(o.path) for o in units)]


def test_a_subtree_holds_the_unit_and_everything_below_it_whatever_the_paths_asked(org: Any) -> None:
    units = list(Unit.objects.order_by("path"))
    root = units[0]
    leaves = [u for u in units if not any(o.path.startswith(u.path) and o != u for o in units)]
    assert len(units) > 3 and len(leaves) >= 2 and root.parent is None
    assert subtree_ids([root.path]) == _below(root) == [u.pk for u in units]
    for leaf in leaves:
        assert subtree_ids([leaf.path]) == [leaf.pk]
    assert subtree_ids([leaves[0].path, leaves[1].path]) == _below(leaves[0], leaves[1])
    assert subtree_ids([root.path, leaves[0].path, root.path]) == _below(root)  # nested and repeated: once each
    assert subtree_ids([]) == []
    assert subtree_ids(["/999999/"]) == []


def test_a_subtree_read_again_sees_a_unit_added_since(org: Any) -> None:
    """The SQL is kept between calls; the rows are read again each time."""
    parent = Unit.objects.filter(parent__isnull=False).order_by("path").first()
    assert parent is not None
    before = subtree_ids([parent.path])
    child = Unit.objects.create(code="new_grid", name="新网格", parent=parent)
    after = subtree_ids([parent.path])
    assert child.pk not in before and after == _below(parent) and child.pk in after
    sibling = Unit.objects.create(code="sibling", name="同级", parent=parent.parent)
    assert sibling.pk not in subtree_ids([parent.path]) and subtree_ids([parent.path]) == after
