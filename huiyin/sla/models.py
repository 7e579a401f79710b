"""The administrator-maintained part of the working-day calendar (DESIGN §4).

Years covered by the chinesecalendar package need no rows. A `CalendarYear`
row (with its `CalendarDay` rows) overrides the package for that year: it is how
an administrator adds the 国务院办公厅 notice for a year the package does not
know yet. Only days that differ from the Monday–Friday default have rows.

`calendar.py` re-reads these tables when `CalendarYear`'s row count or latest
`updated_at` changes, so every write to a day also touches its year (a signal
receiver below does it for saves and deletes).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import calendar
from .calendar import DayKind


class YearSource(models.TextChoices):
    PACKAGE = "package", _("内置数据")
    IMPORT = "import", _("管理员导入")


class CalendarYear(models.Model):
    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(
        _("来源"), max_length=10, choices=YearSource.choices, default=YearSource.IMPORT
    )
    imported_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    # The acting user's id; no foreign key, because sla imports nothing from other apps.
    imported_by_id = models.BigIntegerField(_("导入人 ID"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("日历年份")
        verbose_name_plural = _("日历年份")
        ordering = ("-year",)

    def __str__(self) -> str:
        return str(self.year)

    def touch(self) -> None:
        """Mark the year changed, so every process re-reads the calendar."""
        CalendarYear.objects.filter(pk=self.pk).update(updated_at=timezone.now())


class CalendarDay(models.Model):
    """A statutory holiday (on any day) or a make-up working day (on a weekend)."""

    year = models.ForeignKey(
        CalendarYear, verbose_name=_("年份"), on_delete=models.CASCADE, related_name="days"
    )
    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("节假日/调休日")
        verbose_name_plural = _("节假日/调休日")
        ordering = ("date",)

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()

    def clean(self) -> None:
        if not self.date:  # left empty in the admin form; the field's own check reports it
            return
        if self.year_id is not None and self.date.year != self.year.year:
            raise ValidationError({"date": _("日期不在该年份内")})
        if self.kind == DayKind.MAKEUP and self.date.weekday() < 5:
            raise ValidationError({"kind": _("调休上班日必须是星期六或星期日")})


@receiver([post_save, post_delete], sender=CalendarDay)
def _touch_year(sender: type[CalendarDay], instance: CalendarDay, **kwargs: Any) -> None:
    # Also for the admin's bulk delete; `bulk_create` and `update()` send nothing, so
    # their callers touch the year themselves (services.calendar_import_year does).
    CalendarYear.objects.filter(pk=instance.year_id).update(updated_at=timezone.now())
    _invalidate()


@receiver([post_save, post_delete], sender=CalendarYear)
def _year_changed(sender: type[CalendarYear], instance: CalendarYear, **kwargs: Any) -> None:
    _invalidate()


def _invalidate() -> None:
    """This process re-reads the calendar on its next call, and again after the commit."""
    calendar.invalidate()
    transaction.on_commit(calendar.invalidate)


class MissingCalendarYear(models.Model):
    """A year a deadline needed but the calendar did not know: administrators are warned."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    first_seen_at = models.DateTimeField(_("首次出现"))
    last_seen_at = models.DateTimeField(_("最近出现"))
    resolved_at = models.DateTimeField(_("已导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("缺少的日历年份")
        verbose_name_plural = _("缺少的日历年份")
        ordering = ("year",)

    def __str__(self) -> str:
        return str(self.year)
