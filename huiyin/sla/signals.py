"""Signals sent by sla.

`calendar_year_imported(sender=CalendarYear, year=int)` is sent after the commit
of `services.calendar_import_year`; apps holding provisional deadlines in that
year recompute them on it.
"""

from django.dispatch import Signal

calendar_year_imported = Signal()
