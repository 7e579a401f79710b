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


def test_a_pages_user_holds_the_roles_of_active_units_and_addresses_the_active_units(org: Any) -> None:
    """`grants` (read for a page's user; kept SQL) and `org_units` (what a dispatcher may send a
    case to): a unit switched off leaves both, and comes back with them."""
    from huiyin.org.access import grants, org_units
    from huiyin.org.models import User

    def fresh() -> Any:
        return User.objects.get(pk=org.handler_a.pk)  # grants are cached on the user object

    held = grants(fresh())
    unit = held[0].unit
    every = list(Unit.objects.filter(active=True).order_by("path"))
    assert [u.pk for u in org_units(fresh())] == [u.pk for u in every if u.path.split("/")[1] == unit.path.split("/")[1]]
    Unit.objects.filter(pk=unit.pk).update(active=False)
    assert unit.pk not in [g.unit_id for g in grants(fresh())]
    assert unit.pk not in [u.pk for u in org_units(org.dispatcher)]
    Unit.objects.filter(pk=unit.pk).update(active=True)
    assert [(g.role, g.unit_id) for g in grants(fresh())] == [(g.role, g.unit_id) for g in held]
