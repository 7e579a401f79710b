"""Excel export of the current case list (openpyxl), under the one identity rule.

Every cell that came from a user (subjects, names, units' and categories' names — anything typed)
is written as text, never as a formula: a value starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is a string cell with Excel's quote prefix, so opening or editing the file never
evaluates it. Characters a workbook cannot hold (control characters, which once made every later
export fail) are dropped from the cell, not from the data.

The file says who exported it, when, why and under which filters (its second sheet, and the
workbook's properties): a copy that leaves the organisation carries its requester. What was
exported is written to the audit log by the view (privacy.exports).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from huiyin.cases import selectors
from huiyin.cases.access import complainant_view
from huiyin.org.models import User

from . import labels

log = logging.getLogger(__name__)

EXPORT_MAX = 10_000  # rows per file; narrow the filter for more
# What openpyxl refuses in a cell (it raised IllegalCharacterError, a 500, for every later export).
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportInfo:
    """Who exports, why, under which filters (written into the file)."""

    requester: User
    reason: str
    query: str
    request_id: int | None = None
    approved_by: str = ""


def text_cell(ws: Worksheet, row: int, column: int, value: Any) -> None:
    """A cell holding `value` as a string, whatever it starts with (never a formula)."""
    text = ILLEGAL.sub("", str(value))
    cell = ws.cell(row=row, column=column)
    cell.value = text
    cell.data_type = "s"  # openpyxl would read a leading "=" as a formula
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True  # and Excel keeps it text when the cell is edited


def _row(ws: Worksheet, values: list[Any]) -> None:
    r = ws.max_row + 1 if ws.max_row > 1 or ws.cell(1, 1).value is not None else 1
    for col, value in enumerate(values, start=1):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.cell(row=r, column=col, value=value)
        else:
            text_cell(ws, r, col, "" if value is None else value)


def cases_xlsx(user: User, f: selectors.ListFilters, info: ExportInfo | None = None) -> tuple[bytes, int, bool]:
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
    _row(ws, [str(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for c in rows:
        # the one identity rule (cases.access); only the three fields shown are opened
        person = complainant_view(user, c, listing=True, keys=("name", "phone", "id_number"))
        _row(ws, [
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
    if info is not None:
        _about(wb, info, now=now, rows=len(rows), truncated=truncated)
    buf = io.BytesIO()
    wb.save(buf)
    log.info("export of %d cases by %s (truncated=%s)", len(rows), user.username, truncated)
    return buf.getvalue(), len(rows), truncated


def _about(wb: Workbook, info: ExportInfo, *, now: Any, rows: int, truncated: bool) -> None:
    """The requester, the time, the reason and the filters: a sheet of their own and the
    workbook's properties."""
    who = f"{info.requester.display_name or info.requester.username} ({info.requester.username})"
    ws = wb.create_sheet(str(_("Export information")))
    lines: list[tuple[str, Any]] = [
        (str(_("Exported by")), who),
        (str(_("Exported at")), timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S")),
        (str(_("Export reason")), info.reason),
        (str(_("Export filters")), info.query or "—"),
        (str(_("Exported rows")), rows),
    ]
    if truncated:
        lines.append((str(_("Truncated")), str(_("yes"))))
    if info.request_id is not None:
        lines.append((str(_("Export request")), info.request_id))
        lines.append((str(_("Approved by")), info.approved_by))
    for label, value in lines:
        _row(ws, [label, value])
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 60
    wb.properties.creator = ILLEGAL.sub("", who)[:255]
    wb.properties.description = ILLEGAL.sub("", f"{info.reason}")[:1000]
    wb.properties.title = str(_("Cases"))
