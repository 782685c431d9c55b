"""Working days (工作日) for legal and promised time limits, with the holiday calendar held as data.

Time limits count working days, not statutory holidays (行政许可法 art. 82), starting the day after
acceptance (民法典 art. 201). Which days are working days depends on the State Council's yearly notice
(holidays and make-up workdays, 调休), so the calendar is a per-year table: seeded from the
``chinese_calendar`` package (years 2004-2026), extended by year files imported from the notice
(``shared/data/calendar/*.json``, see the README there). A day in a year without data is judged by a
provisional rule and every result that relied on it says so, so that the deadline is recomputed once the
year's notice is imported: never a crash, never a silent guess.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar

__all__ = [
    "CALENDAR_DATA_DIR",
    "Deadline",
    "WorkCalendar",
    "add_working_days",
    "default_calendar",
    "is_workday",
    "working_days_between",
]

CALENDAR_DATA_DIR = Path(__file__).parent / "data" / "calendar"

# Statutory holidays on a fixed Gregorian date (全国年节及纪念日放假办法 as amended by 国务院令第795号,
# in force 2025-01-01): 元旦 Jan 1, 劳动节 May 1-2, 国庆节 Oct 1-3. The lunar holidays and the year's
# swaps are only known from the notice, so the provisional rule cannot include them.
_FIXED_DATE_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})

_ISO_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR_FILE_KEYS = {"year", "source", "holidays", "workdays", "notes"}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Deadline:
    """The due date of a time limit; ``provisional`` if a day counted lies in a year without calendar data."""

    due: date
    provisional: bool


@dataclass(frozen=True)
class _YearData:
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str


def _as_date(day: date) -> date:
    # A datetime compares unequal to the date of the same day and hashes differently, so it would never
    # be found in the holiday sets.
    return day.date() if isinstance(day, datetime) else day


class WorkCalendar:
    """Working days per year: statutory days off and make-up workdays as data, one entry per year."""

    def __init__(self) -> None:
        self._years: dict[int, _YearData] = {}

    def add_year(
        self, year: int, holidays: Iterable[date], workdays: Iterable[date], source: str = ""
    ) -> None:
        """Set a year's data, replacing any earlier data for it (a later notice or a correction wins).

        ``holidays`` are the statutory days off (weekdays; weekend days of a holiday period may be
        listed too), ``workdays`` the make-up working days (调休上班), which fall on weekends. Dates lie in
        ``year``, or in the December before it when the notice arranges those (New Year bridge).
        """
        if not isinstance(year, int) or isinstance(year, bool) or not 1 <= year <= 9999:
            raise ValueError(f"year must be an integer from 1 to 9999, got {year!r}")
        holiday_set = frozenset(_as_date(d) for d in holidays)
        workday_set = frozenset(_as_date(d) for d in workdays)
        for day in sorted(holiday_set | workday_set):
            # A notice may also arrange the last days of December before its year (the New Year bridge:
            # the 2019 notice made Sat 2018-12-29 a workday), so those are accepted too.
            if day.year != year and not (day.year == year - 1 and day.month == 12):
                raise ValueError(f"{day.isoformat()} is listed in the data for {year}")
        both = holiday_set & workday_set
        if both:
            raise ValueError(f"listed both as holiday and as make-up workday: {_days(both)}")
        # A make-up workday on a weekday means nothing; it is a typo in the data, not a rule.
        weekday_workdays = {d for d in workday_set if d.weekday() < 5}
        if weekday_workdays:
            raise ValueError(f"make-up workdays must fall on a Saturday or Sunday: {_days(weekday_workdays)}")
        self._years[year] = _YearData(holiday_set, workday_set, source)

    @property
    def known_years(self) -> set[int]:
        """The years this calendar has data for; other years are judged provisionally."""
        return set(self._years)

    def source(self, year: int) -> str | None:
        """Where a year's data came from (package version or notice), None if the year is unknown."""
        data = self._years.get(year)
        return None if data is None else data.source

    @classmethod
    def from_chinese_calendar(cls) -> WorkCalendar:
        """A calendar holding every year the ``chinese_calendar`` package covers."""
        holidays: defaultdict[int, list[date]] = defaultdict(list)
        workdays: defaultdict[int, list[date]] = defaultdict(list)
        for day in chinese_calendar.holidays:
            holidays[day.year].append(day)
        for day in chinese_calendar.workdays:
            workdays[day.year].append(day)
        source = f"chinese_calendar {getattr(chinese_calendar, '__version__', '(unknown version)')}"
        calendar = cls()
        # The package's own notion of coverage: every year from its first to its last holiday, even a
        # year with no make-up workdays at all.
        for year in range(min(holidays), max(holidays) + 1):
            calendar.add_year(year, holidays[year], workdays[year], source=source)
        return calendar

    def load_year_file(self, path: str | Path) -> int:
        """Import one year from a JSON file transcribing the State Council's notice; return the year.

        Format: ``{"year": 2027, "source": "...", "holidays": ["2027-01-01", ...], "workdays": [...]}``,
        optionally ``"notes"``. The file is checked strictly: a wrong calendar is worse than none.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read calendar year file: {exc}") from exc
        try:
            year, holidays, workdays, source = _parse_year_file(raw)
            self.add_year(year, holidays, workdays, source=source)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        return year

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """``(is_workday, provisional)`` for any date; never raises.

        A year with data: a weekday that is not a holiday, or a make-up workday. A year without data:
        Monday to Friday except the fixed-date statutory holidays, with ``provisional`` True.
        """
        day = _as_date(day)
        data = self._years.get(day.year)
        if data is None:
            return day.weekday() < 5 and (day.month, day.day) not in _FIXED_DATE_HOLIDAYS, True
        # December days the next year's notice arranges; being the later notice, it takes precedence.
        following = self._years.get(day.year + 1) if day.month == 12 else None
        if following is not None:
            if day in following.workdays:
                return True, False
            if day in following.holidays:
                return False, False
        if day in data.workdays:
            return True, False
        return day.weekday() < 5 and day not in data.holidays, False

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The ``days``-th working day after ``start`` (the day of acceptance itself is not counted).

        ``days == 0`` gives ``start``. ``provisional`` is True if any day examined lies in a year
        without data.
        """
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValueError(f"days must be a non-negative integer, got {days!r}")
        day = _as_date(start)
        provisional = False
        counted = 0
        while counted < days:
            day += _ONE_DAY
            working, unsure = self.is_workday(day)
            provisional = provisional or unsure
            counted += working
        return Deadline(day, provisional)

    def working_days_between(self, start: date, end: date) -> tuple[int, bool]:
        """``(count, provisional)``: the working days d with ``start < d <= end``; 0 if ``end <= start``.

        The time used by a case accepted on ``start`` as of ``end``; inverse of :meth:`add_working_days`.
        """
        day, end = _as_date(start), _as_date(end)
        count = 0
        provisional = False
        while day < end:
            day += _ONE_DAY
            working, unsure = self.is_workday(day)
            provisional = provisional or unsure
            count += working
        return count, provisional


def _days(days: Iterable[date]) -> str:
    return ", ".join(d.isoformat() for d in sorted(days))


def _parse_year_file(raw: Any) -> tuple[int, list[date], list[date], str]:
    if not isinstance(raw, dict):
        raise ValueError("a calendar year file must hold one JSON object")
    unknown = set(raw) - _YEAR_FILE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; allowed: {sorted(_YEAR_FILE_KEYS)}")
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise ValueError(f'"year" must be an integer, got {year!r}')
    source = raw.get("source")
    # The notice a year came from must be traceable: data without a source is a guess.
    if not isinstance(source, str) or not source.strip():
        raise ValueError('"source" must name the notice the data comes from')
    return year, _parse_days(raw, "holidays"), _parse_days(raw, "workdays"), source


def _parse_days(raw: dict[str, Any], key: str) -> list[date]:
    values = raw.get(key)
    if not isinstance(values, list):
        raise ValueError(f'"{key}" must be a list of "YYYY-MM-DD" dates (possibly empty)')
    days = []
    for value in values:
        # fromisoformat alone also accepts "20270101" and other ISO shapes; one shape keeps files uniform.
        if not isinstance(value, str) or not _ISO_DAY_RE.fullmatch(value):
            raise ValueError(f'"{key}" holds {value!r}, expected a "YYYY-MM-DD" date')
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise ValueError(f'"{key}" holds {value!r}, which is not a real date') from None
    return days


@cache
def default_calendar() -> WorkCalendar:
    """The process-wide calendar: the package's years, then every year file shipped in ``CALENDAR_DATA_DIR``.

    Built once and cached; a year file overrides the package for the same year.
    """
    calendar = WorkCalendar.from_chinese_calendar()
    for path in sorted(CALENDAR_DATA_DIR.glob("*.json")):
        calendar.load_year_file(path)
    return calendar


def is_workday(day: date, calendar: WorkCalendar | None = None) -> tuple[bool, bool]:
    """``(is_workday, provisional)`` by ``calendar`` (default: :func:`default_calendar`)."""
    return (default_calendar() if calendar is None else calendar).is_workday(day)


def add_working_days(start: date, days: int, calendar: WorkCalendar | None = None) -> Deadline:
    """The ``days``-th working day after ``start`` by ``calendar`` (default: :func:`default_calendar`)."""
    return (default_calendar() if calendar is None else calendar).add_working_days(start, days)


def working_days_between(start: date, end: date, calendar: WorkCalendar | None = None) -> tuple[int, bool]:
    """Working days d with ``start < d <= end`` by ``calendar`` (default: :func:`default_calendar`)."""
    return (default_calendar() if calendar is None else calendar).working_days_between(start, end)
