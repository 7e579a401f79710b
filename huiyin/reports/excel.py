"""Workbooks of the reports (openpyxl): a sheet per section, Chinese headers, formulas where a
reader expects them (shares, totals, rates, changes), a chart per section that has one.

Two rules:
- every value that comes from people (subjects, names of units and categories, regions, the
  policy's own words) is written as text, never as a formula — a subject typed as "=HYPERLINK(…)"
  stays those characters; only the formulas built here are formulas;
- the same report gives the same bytes: the workbook's own timestamps are the period's end, and
  the zip entries carry a fixed date (openpyxl stamps them with the time of saving).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, time
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .analysis import Report, Section

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
FIXED_ZIP_DATE = (2000, 1, 1, 0, 0, 0)
MAX_SHEET_TITLE = 31


def text(cell: Cell, value: Any) -> None:
    """A value from people, written as text whatever its first character."""
    cell.value = "" if value is None else str(value)
    cell.data_type = "s"


def render(report: Report, *, base_url: str = "") -> bytes:
    """The report as .xlsx bytes; `base_url` (https://…) makes each count a link to its case list."""
    wb = Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "封面"
    _cover(cover, report)
    for section in report.sections:
        ws = wb.create_sheet(_sheet_title(section.title, wb.sheetnames))
        _section(ws, section, base_url=base_url)
    stamp = datetime.combine(report.period.end, time(23, 59, 59))
    wb.properties.creator = "回音 Huiyin"
    wb.properties.lastModifiedBy = "回音 Huiyin"
    wb.properties.title = report.title[:200]
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buf = io.BytesIO()
    wb.save(buf)
    return reproducible(buf.getvalue(), stamp)


def _sheet_title(title: str, taken: list[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:MAX_SHEET_TITLE] or "表"
    base, n = name, 2
    while name in taken:
        name = f"{base[:MAX_SHEET_TITLE - 3]}({n})"
        n += 1
    return name


def _cover(ws: Worksheet, report: Report) -> None:
    text(ws["A1"], report.title)
    ws["A1"].font = TITLE_FONT
    span = f"{report.period.label}({report.period.start:%Y-%m-%d}至{report.period.end:%Y-%m-%d})"
    rows = [("单位", report.unit_name), ("统计期间", span),
            ("统计口径", "按受理时间计入期间;办结、满意等结果以数据截止时的处理记录为准"),
            ("数据截至", report.as_of or "—"), ("依据", report.basis or "—")]
    for i, (label, value) in enumerate(rows, start=3):
        ws.cell(row=i, column=1, value=label).font = BOLD
        text(ws.cell(row=i, column=2), value)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 80
    summary = next((s for s in report.sections if s.key == "summary"), None)
    if summary is not None and summary.note:
        ws.cell(row=9, column=1, value="概述").font = BOLD
        text(ws.cell(row=9, column=2), summary.note)
        ws.cell(row=9, column=2).alignment = Alignment(wrap_text=True, vertical="top")


def _section(ws: Worksheet, s: Section, *, base_url: str) -> None:
    text(ws["A1"], s.title)
    ws["A1"].font = TITLE_FONT
    head = 3
    for j, col in enumerate(s.columns, start=1):
        cell = ws.cell(row=head, column=j, value=col.title)
        cell.font, cell.fill = BOLD, HEADER_FILL
        ws.column_dimensions[get_column_letter(j)].width = 28 if col.kind == "text" and j == 1 else 14
    first = head + 1
    last = head + len(s.rows)
    for i, row in enumerate(s.rows):
        r = first + i
        for j, col in enumerate(s.columns, start=1):
            value = row.cells[j - 1] if j - 1 < len(row.cells) else None
            cell = ws.cell(row=r, column=j)
            if col.kind == "text":
                text(cell, value)
            elif col.kind == "share":
                cell.value = f"=IF(SUM(B${first}:B${last})=0,\"\",B{r}/SUM(B${first}:B${last}))"
                cell.number_format = "0.0%"
            elif col.kind == "formula":
                cell.value = col.formula.format(r=r)
                rate_row = s.key == "summary" and i > 0
                cell.number_format = "0.0%" if col.percent or rate_row else "0.0000" if "*" in col.formula else "0"
            elif col.kind == "rate":
                cell.value = value
                cell.number_format = "0.0%"
            else:
                cell.value = value
                if isinstance(value, float) and not value.is_integer():
                    cell.number_format = "0.00"
                elif s.key == "summary" and i > 0 and j > 1:
                    cell.number_format = "0.0%"  # the summary's rows below the first are rates
            link = row.urls.get(j - 1) or (row.url if j == 2 else "")
            if base_url and link and col.kind in ("int",):
                cell.hyperlink = base_url.rstrip("/") + link
                cell.style = "Hyperlink"
    if s.total and s.rows:
        r = last + 1
        ws.cell(row=r, column=1, value="合计").font = BOLD
        for j, col in enumerate(s.columns[1:], start=2):
            letter = get_column_letter(j)
            if col.kind == "int":
                ws.cell(row=r, column=j, value=f"=SUM({letter}{first}:{letter}{last})").font = BOLD
            elif col.kind == "share":
                ws.cell(row=r, column=j, value=f"=IF(SUM(B{first}:B{last})=0,\"\",1)").number_format = "0.0%"
    if s.note:
        note_row = last + (3 if s.total else 2)
        text(ws.cell(row=note_row, column=1), "说明:" + s.note)
    if s.chart and s.rows:
        _chart(ws, s, first, last)
    ws.freeze_panes = ws.cell(row=first, column=2)


def _chart(ws: Worksheet, s: Section, first: int, last: int) -> None:
    col = s.chart_column + 1
    data = Reference(ws, min_col=col, min_row=first - 1, max_row=last)
    cats = Reference(ws, min_col=1, min_row=first, max_row=last)
    chart: Any
    if s.chart == "pie":
        chart = PieChart()
    elif s.chart == "line":
        chart = LineChart()
        chart.y_axis.title = s.columns[s.chart_column].title
    else:
        chart = BarChart()
        chart.type = "bar" if len(s.rows) > 8 else "col"
        chart.y_axis.title = s.columns[s.chart_column].title
        chart.legend = None
    chart.title = s.title.split("、")[-1]
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    chart.height, chart.width = 8, 16
    anchor_col = get_column_letter(len(s.columns) + 2)
    ws.add_chart(chart, f"{anchor_col}3")


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def reproducible(content: bytes, stamp: datetime) -> bytes:
    """The same workbook with fixed zip entry dates and `modified` (openpyxl writes the time of
    saving into both)."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>" + iso + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)
    return out.getvalue()


def table(title: str, headers: list[str], rows: list[list[Any]], *, sheet: str = "明细", stamp: datetime,
          numeric: set[int] | None = None) -> bytes:
    """A plain workbook of one table (penalty summaries, bulletins' case lists): every cell text
    but the columns named in `numeric`."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet[:MAX_SHEET_TITLE]
    text(ws["A1"], title)
    ws["A1"].font = TITLE_FONT
    for j, h in enumerate(headers, start=1):
        cell = ws.cell(row=3, column=j, value=h)
        cell.font, cell.fill = BOLD, HEADER_FILL
        ws.column_dimensions[get_column_letter(j)].width = 16
    for i, row in enumerate(rows, start=4):
        for j, value in enumerate(row, start=1):
            cell = ws.cell(row=i, column=j)
            if numeric and j - 1 in numeric and isinstance(value, (int, float)):
                cell.value = value
            else:
                text(cell, value)
    wb.properties.creator = "回音 Huiyin"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buf = io.BytesIO()
    wb.save(buf)
    return reproducible(buf.getvalue(), stamp)
