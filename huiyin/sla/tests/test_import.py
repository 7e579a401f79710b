"""Importing a year's notice: parsing, storing, provisional deadlines becoming firm,
freshness across processes, missing-year warnings, the command and the admin page."""

from __future__ import annotations

from datetime import UTC, date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from huiyin.sla import calendar as cal
from huiyin.sla.models import CalendarDay, CalendarYear, MissingCalendarYear
from huiyin.sla.services import (
    CalendarFileError,
    ParsedYear,
    calendar_import_year,
    note_missing_years,
    parse_calendar_file,
)
from huiyin.sla.signals import calendar_year_imported

from .conftest import CALENDAR_2027, FakeClock, bj

# --- parsing ------------------------------------------------------------------------------


def test_it_parses_the_text_format() -> None:
    parsed = parse_calendar_file(CALENDAR_2027)
    assert parsed.year == 2027
    assert len(parsed.days) == 3 + 8 + 2
    assert parsed.days[0] == (date(2027, 1, 1), "holiday", "元旦")
    assert (date(2027, 2, 13), "holiday", "春节") in parsed.days
    assert parsed.days[-1] == (date(2027, 2, 20), "makeup", "春节调休")


def test_it_accepts_full_width_spaces_slashes_names_with_spaces_and_a_bom() -> None:
    parsed = parse_calendar_file(
        "\ufeffyear\u30002027\nholiday 2027/10/01..2027/10/02 国庆节 National Day\n"
    )
    assert parsed == ParsedYear(
        2027,
        [
            (date(2027, 10, 1), "holiday", "国庆节 National Day"),
            (date(2027, 10, 2), "holiday", "国庆节 National Day"),
        ],
    )


def test_it_parses_csv() -> None:
    text = '# from the notice\ndate,kind,name\n2027-01-01,holiday,元旦\n2027-02-14,makeup,"春节,调休"\n'
    assert parse_calendar_file(text) == ParsedYear(
        2027, [(date(2027, 1, 1), "holiday", "元旦"), (date(2027, 2, 14), "makeup", "春节,调休")]
    )


def test_it_reports_every_bad_line() -> None:
    text = (
        "year 2027\n"  # 1
        "holiday 2027-01-01 元旦\n"  # 2
        "holiday 2026-12-31 跨年\n"  # 3
        "makeup 2027-02-15 春节调休\n"  # 4: a Monday
        "\n"  # 5
        "holiday 2027-01-01 元旦\n"  # 6
        "holiday 2027-02-30 错误\n"  # 7
        "vacation 2027-03-01\n"  # 8
        "holiday 2027-05-05..2027-05-01\n"  # 9
        "year 2028\n"  # 10
        "holiday\n"  # 11
    )
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_file(text)
    assert [(e.line, e.code) for e in exc.value.errors] == [
        (3, "outside_year"),
        (4, "makeup_not_weekend"),
        (6, "duplicate_date"),
        (7, "bad_date"),
        (8, "unknown_keyword"),
        (9, "bad_range"),
        (10, "year_twice"),
        (11, "missing_date"),
    ]
    assert "星期一" in exc.value.errors[1].message
    assert str(exc.value.errors[0]) == "第 3 行: 2026-12-31 不在 2027 年内 [outside_year]"


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("holiday 2027-01-01 元旦\n", [(0, "missing_year")]),
        ("# nothing\n\n", [(0, "missing_year")]),
        ("year 2027\n", [(0, "no_days")]),
        ("year twenty\nholiday 2027-01-01\n", [(0, "missing_year"), (1, "bad_year")]),
        (
            "date,kind,name\n2027-01-01,day off,元旦\n2027-13-01,holiday,x\n",
            [(2, "bad_kind"), (3, "bad_date")],
        ),
        (
            "date,kind,name\n2027-01-01,holiday,元旦\n2028-01-01,holiday,元旦\n",
            [(3, "outside_year")],
        ),
    ],
)
def test_it_reports_file_level_errors(text: str, errors: list[tuple[int, str]]) -> None:
    with pytest.raises(CalendarFileError) as exc:
        parse_calendar_file(text)
    assert [(e.line, e.code) for e in exc.value.errors] == errors


# --- importing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_importing_2027_makes_provisional_deadlines_firm() -> None:
    before = cal.deadline_add(bj(2026, 12, 31, 10, 0), 3, "working_days")
    assert before == cal.Deadline(
        bj(2027, 1, 5, 17, 30), True, (2027,)
    )  # 1 Jan guessed a working day
    spring = cal.deadline_add(bj(2027, 2, 5, 10, 0), 1, "working_days")
    assert spring == cal.Deadline(bj(2027, 2, 8, 17, 30), True, (2027,))

    year = calendar_import_year(
        parse_calendar_file(CALENDAR_2027), actor_id=7, note="国办发明电〔2026〕X号"
    )

    assert (year.year, year.source, year.imported_by_id) == (2027, "import", 7)
    assert CalendarDay.objects.filter(year=year).count() == 13
    assert cal.deadline_add(bj(2026, 12, 31, 10, 0), 3, "working_days") == cal.Deadline(
        bj(2027, 1, 6, 17, 30), False, ()
    )
    # Friday 5 Feb + 1: 6–13 Feb off, Sunday 14 Feb is a make-up day.
    assert cal.deadline_add(bj(2027, 2, 5, 10, 0), 1, "working_days") == cal.Deadline(
        bj(2027, 2, 14, 17, 30), False, ()
    )
    assert cal.day_info(date(2027, 2, 14)) == cal.DayInfo(True, False, True, True, "春节调休")
    assert cal.year_known(2027) and cal.year_source(2027) == "import"
    assert 2027 in cal.known_years()
    # 2028 is still unknown.
    assert cal.deadline_add(bj(2027, 12, 30, 10, 0), 3, "working_days").unknown_years == (2028,)


@pytest.mark.django_db
def test_an_import_overrides_the_package_for_its_year() -> None:
    assert cal.year_source(2026) == "package"
    calendar_import_year(parse_calendar_file("year 2026\nholiday 2026-03-09 测试假日\n"))
    assert cal.year_source(2026) == "import"
    assert cal.day_info(date(2026, 3, 9)) == cal.DayInfo(False, True, False, True, "测试假日")
    assert cal.is_workday(date(2026, 10, 1))  # the imported year replaces the package's entirely


@pytest.mark.django_db
def test_importing_again_replaces_the_year() -> None:
    calendar_import_year(parse_calendar_file(CALENDAR_2027))
    calendar_import_year(parse_calendar_file("year 2027\nholiday 2027-10-01 国庆节\n"))
    assert list(CalendarDay.objects.values_list("date", flat=True)) == [date(2027, 10, 1)]
    assert CalendarYear.objects.count() == 1
    assert cal.is_workday(date(2027, 2, 8)) and not cal.is_workday(date(2027, 10, 1))


@pytest.mark.django_db
def test_import_rejects_an_invalid_parsed_year_and_stores_nothing() -> None:
    bad = ParsedYear(2027, [(date(2027, 2, 15), "makeup", "not a weekend")])
    with pytest.raises(CalendarFileError):
        calendar_import_year(bad)
    assert not CalendarYear.objects.exists() and not CalendarDay.objects.exists()


@pytest.mark.django_db
def test_the_signal_is_sent_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    received: list[int] = []

    def on_import(sender: Any, year: int, **kwargs: Any) -> None:
        received.append(year)

    calendar_year_imported.connect(on_import)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            calendar_import_year(parse_calendar_file(CALENDAR_2027))
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [2027]
    finally:
        calendar_year_imported.disconnect(on_import)


# --- freshness ----------------------------------------------------------------------------


def _import_as_another_process(text: str) -> None:
    """Write the rows without this process's signals or cache invalidation."""
    parsed = parse_calendar_file(text)
    (cy,) = CalendarYear.objects.bulk_create([CalendarYear(year=parsed.year)])
    cy = CalendarYear.objects.get(year=parsed.year)
    CalendarDay.objects.bulk_create(
        CalendarDay(year=cy, date=d, kind=k, name=n) for d, k, n in parsed.days
    )


@pytest.mark.django_db
def test_another_process_import_is_seen_within_30_seconds(clock: FakeClock) -> None:
    start = bj(2027, 2, 5, 10, 0)
    assert cal.deadline_add(start, 1, "working_days").provisional
    _import_as_another_process(CALENDAR_2027)
    clock.advance(29)
    assert cal.deadline_add(start, 1, "working_days").provisional  # still the cached table
    clock.advance(1)
    assert cal.deadline_add(start, 1, "working_days") == cal.Deadline(
        bj(2027, 2, 14, 17, 30), False, ()
    )


@pytest.mark.django_db
def test_edits_by_another_process_are_seen_too(clock: FakeClock) -> None:
    calendar_import_year(parse_calendar_file(CALENDAR_2027))
    assert not cal.is_workday(date(2027, 1, 1))
    CalendarDay.objects.filter(date=date(2027, 1, 1)).update(kind="makeup")  # no signal …
    CalendarYear.objects.filter(year=2027).update(updated_at=bj(2030, 1, 1))  # … but a touched year
    clock.advance(30)
    assert cal.is_workday(date(2027, 1, 1))


@pytest.mark.django_db
def test_the_importing_process_sees_the_import_at_once(clock: FakeClock) -> None:
    assert not cal.year_known(2027)
    calendar_import_year(parse_calendar_file(CALENDAR_2027))
    assert cal.year_known(2027)  # no time has passed


@pytest.mark.django_db
def test_admin_edits_of_a_day_are_seen_at_once(clock: FakeClock) -> None:
    calendar_import_year(parse_calendar_file(CALENDAR_2027))
    day = CalendarDay.objects.get(date=date(2027, 2, 20))
    day.delete()
    assert not cal.is_workday(date(2027, 2, 20))
    CalendarDay.objects.create(
        year=CalendarYear.objects.get(year=2027), date=date(2027, 3, 1), kind="holiday"
    )
    assert not cal.is_workday(date(2027, 3, 1))


def test_without_a_database_the_package_calendar_is_used() -> None:
    # No django_db mark: reading imported years fails; deadlines are still computed.
    assert cal.deadline_add(bj(2026, 2, 13, 10), 2, "working_days").due_at == bj(
        2026, 2, 24, 17, 30
    )
    assert not cal.year_known(2027)


# --- missing years ------------------------------------------------------------------------


@pytest.mark.django_db
def test_missing_years_are_recorded_once_an_hour(
    clock: FakeClock, django_assert_num_queries: Any
) -> None:
    note_missing_years([2027, 2026, 2027])
    (row,) = MissingCalendarYear.objects.all()
    assert row.year == 2027 and row.resolved_at is None
    first = row.last_seen_at
    with django_assert_num_queries(0):
        note_missing_years([2027])
    clock.advance(3600)
    note_missing_years([2027])
    row.refresh_from_db()
    assert row.last_seen_at > first and row.first_seen_at == first


@pytest.mark.django_db
def test_importing_resolves_the_missing_year() -> None:
    note_missing_years([2027, 2028])
    calendar_import_year(parse_calendar_file(CALENDAR_2027))
    resolved = dict(MissingCalendarYear.objects.values_list("year", "resolved_at"))
    assert resolved[2027] is not None and resolved[2028] is None
    note_missing_years([2027])  # known now: not recorded again
    assert MissingCalendarYear.objects.get(year=2027).resolved_at is not None


# --- the command --------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("calendar", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_imports_a_file(tmp_path: Path) -> None:
    f = tmp_path / "2027.txt"
    f.write_text(CALENDAR_2027, encoding="utf-8")
    out, _ = run("import", str(f), "--note", "国办发明电")
    assert "imported 2027: 11 holiday(s), 2 make-up day(s)" in out
    assert "2027-02-14 周日 makeup  春节调休" in out
    assert CalendarYear.objects.get(year=2027).note == "国办发明电"


@pytest.mark.django_db
def test_command_prints_every_bad_line_and_stores_nothing(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(
        "year 2027\nholiday 2027-01-01 元旦\nmakeup 2027-02-15 x\nholiday 2027-02-31 y\n",
        encoding="utf-8",
    )
    err = StringIO()
    with pytest.raises(CommandError, match="2 error"):
        call_command("calendar", "import", str(f), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{f}:3: makeup_not_weekend: ")
    assert lines[1].startswith(f"{f}:4: bad_date: ")
    assert not CalendarYear.objects.exists()


@pytest.mark.django_db
def test_command_shows_a_year() -> None:
    out, _ = run("show", "2026")
    assert out.startswith("2026: known (from the chinesecalendar package)")
    assert "2026-10-10 周六 makeup  国庆节调休" in out
    assert "2026-02-15 周日 holiday 春节" in out
    out, _ = run("show", "2027")
    assert "UNKNOWN" in out and "provisional" in out


@pytest.mark.django_db
def test_command_lists_missing_years() -> None:
    assert run("missing")[0].strip() == "no missing years"
    note_missing_years([2028])
    seen = MissingCalendarYear.objects.get(year=2028).first_seen_at
    local = f"{timezone.localtime(seen):%Y-%m-%d %H:%M}"  # Beijing time, as every page shows it
    assert local != f"{seen.astimezone(UTC):%Y-%m-%d %H:%M}"
    assert run("missing")[0].startswith(f"2028: needed since {local}, last {local}")


# --- the admin page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_imports_a_pasted_file(admin_client: Any) -> None:
    url = "/admin/sla/calendaryear/import/"
    assert admin_client.get(url).status_code == 200
    r = admin_client.post(url, {"text": CALENDAR_2027, "note": "测试"})
    assert r.status_code == 302
    assert CalendarYear.objects.get(year=2027).imported_by_id is not None
    assert "导入日历文件" in admin_client.get("/admin/sla/calendaryear/").content.decode()


@pytest.mark.django_db
def test_admin_imports_an_uploaded_csv(admin_client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_file = SimpleUploadedFile("2027.csv", "date,kind,name\n2027-01-01,holiday,元旦\n".encode())
    r = admin_client.post("/admin/sla/calendaryear/import/", {"file": csv_file})
    assert r.status_code == 302
    assert cal.day_info(date(2027, 1, 1)).name == "元旦"


@pytest.mark.django_db
def test_admin_shows_errors_line_by_line(admin_client: Any) -> None:
    r = admin_client.post(
        "/admin/sla/calendaryear/import/",
        {"text": "year 2027\nmakeup 2027-02-15 x\nholiday 2027-02-31 y\n"},
    )
    page = r.content.decode()
    assert r.status_code == 200
    assert "第 2 行" in page and "第 3 行" in page and "makeup_not_weekend" in page
    assert not CalendarYear.objects.exists()


@pytest.mark.django_db
def test_admin_warns_about_missing_years(admin_client: Any) -> None:
    note_missing_years([2027])
    assert "2027" in admin_client.get("/admin/sla/calendaryear/", follow=True).content.decode()


def test_noting_missing_years_without_a_database_does_not_raise() -> None:
    note_missing_years([2027])  # no django_db mark: the write fails and is only logged
