"""Excel export of the current case list (openpyxl), with phone and ID numbers masked."""

from __future__ import annotations

import io
import logging

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from huiyin.cases import selectors
from huiyin.cases.access import complainant_view
from huiyin.org.models import User

from . import labels

log = logging.getLogger(__name__)

EXPORT_MAX = 10_000  # rows per file; narrow the filter for more


def cases_xlsx(user: User, f: selectors.ListFilters) -> tuple[bytes, int, bool]:
    """The list under filter `f` as an .xlsx file; returns (content, rows, truncated)."""
    now = timezone.now()
    qs = selectors.apply_filters(user, f, now=now)
    qs = qs.select_related("owner_unit", "unit", "category")
    ordered = selectors.by_time_left(qs) if f.sort == "due" else qs.order_by(*selectors.SORTS.get(f.sort, ("-id",)))
    rows = list(ordered[: EXPORT_MAX + 1])
    truncated = len(rows) > EXPORT_MAX
    rows = rows[:EXPORT_MAX]
    wb = Workbook()
    ws = wb.active
    ws.title = _("Cases")
    headers = [
        _("Number"), _("Kind"), _("Channel"), _("State"), _("Round"), _("Severity"), _("Category"),
        _("Subject"), _("Complainant"), _("Phone"), _("ID number"), _("Registering unit"), _("Handling unit"),
        _("Received at"), _("Overdue"), _("Satisfaction"), _("Urged"), _("Closed at"),
    ]
    ws.append([str(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for c in rows:
        person = complainant_view(user, c, listing=True)  # the one identity rule (cases.access)
        ws.append([
            c.number,
            str(labels.label("kind", c.kind)),
            str(labels.label("channel", c.channel)),
            str(labels.label("state", c.state)),
            c.round,
            str(labels.label("severity", c.severity)),
            c.category.name if c.category_id and c.category else "",
            c.subject,
            person["name"],
            person["phone"],
            person["id_number"],
            c.owner_unit.name,
            c.unit.name if c.unit_id and c.unit else "",
            timezone.localtime(c.received_at).strftime("%Y-%m-%d %H:%M"),
            str(_("yes")) if selectors.urgency(c, now) == "overdue" else "",
            str(labels.label("satisfaction", c.satisfaction)),
            c.urge_count,
            timezone.localtime(c.closed_at).strftime("%Y-%m-%d %H:%M") if c.closed_at else "",
        ])
    widths = [20, 8, 10, 10, 6, 8, 12, 40, 10, 14, 22, 14, 14, 17, 6, 10, 6, 17]
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    log.info("export of %d cases by %s (truncated=%s)", len(rows), user.username, truncated)
    return buf.getvalue(), len(rows), truncated
