"""Working days: time limits by the Chinese holiday calendar, with years lacking data marked provisional."""

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from shared.workdays import (
    CALENDAR_DATA_DIR,
    Deadline,
    WorkCalendar,
    add_working_days,
    default_calendar,
    is_workday,
    working_days_between,
)


@pytest.fixture(scope="module")
def package_calendar() -> WorkCalendar:
    return WorkCalendar.from_chinese_calendar()


def package_deadline(start: date, days: int) -> date:
    """The same deadline computed with the chinese_calendar package's own functions, as an oracle."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


def write_year_file(folder: Path, content: object) -> Path:
    path = folder / "year.json"
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


def test_limit_counts_from_the_day_after_acceptance(package_calendar: WorkCalendar) -> None:
    # Accepted on Monday 2026-03-02: the first working day of the limit is Tuesday.
    assert package_calendar.add_working_days(date(2026, 3, 2), 1) == Deadline(date(2026, 3, 3), False)
    # Accepted on Friday 2026-03-06: the weekend does not count, the first working day is Monday.
    assert package_calendar.add_working_days(date(2026, 3, 6), 1) == Deadline(date(2026, 3, 9), False)
    # Accepted on a Saturday: the day of acceptance is never counted, even when it is not a working day.
    assert package_calendar.add_working_days(date(2026, 3, 7), 1) == Deadline(date(2026, 3, 9), False)
    # Zero days: the day of acceptance itself (an immediate item, 即办件).
    assert package_calendar.add_working_days(date(2026, 3, 7), 0) == Deadline(date(2026, 3, 7), False)
    assert package_calendar.working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == (0, False)
    assert package_calendar.working_days_between(date(2026, 3, 2), date(2026, 3, 3)) == (1, False)


def test_five_working_days_across_spring_festival_2026_counts_make_up_workdays(
    package_calendar: WorkCalendar,
) -> None:
    # 2026 Spring Festival: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are make-up workdays.
    # Accepted Thu 2026-02-12 -> Fri 13 (1), Sat 14 make-up (2), [Sun 15 .. Mon 23 off],
    # Tue 24 (3), Wed 25 (4), Thu 26 (5) => due 2026-02-26.
    accepted = date(2026, 2, 12)
    assert package_deadline(accepted, 5) == date(2026, 2, 26)
    assert package_calendar.add_working_days(accepted, 5) == Deadline(date(2026, 2, 26), False)
    assert package_calendar.is_workday(date(2026, 2, 14)) == (True, False)
    assert package_calendar.is_workday(date(2026, 2, 23)) == (False, False)
    assert package_calendar.is_workday(date(2026, 2, 28)) == (True, False)


def test_five_working_days_across_national_day_2025(package_calendar: WorkCalendar) -> None:
    # 2025 National Day and Mid-Autumn: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up workdays.
    # Accepted Fri 2025-09-26 -> [Sat 27 weekend], Sun 28 make-up (1), Mon 29 (2), Tue 30 (3),
    # [Wed Oct 1 .. Wed Oct 8 off], Thu Oct 9 (4), Fri Oct 10 (5) => due 2025-10-10.
    accepted = date(2025, 9, 26)
    assert package_deadline(accepted, 5) == date(2025, 10, 10)
    assert package_calendar.add_working_days(accepted, 5) == Deadline(date(2025, 10, 10), False)
    # Sat Oct 11 is the sixth.
    assert package_calendar.add_working_days(accepted, 6) == Deadline(date(2025, 10, 11), False)


def test_deadline_in_year_without_data_is_provisional_not_an_error(package_calendar: WorkCalendar) -> None:
    assert 2027 not in package_calendar.known_years
    # Accepted Mon 2026-12-28 -> Tue 29 (1), Wed 30 (2), Thu 31 (3), [Fri 2027-01-01 New Year's Day,
    # skipped by the provisional rule], [weekend], Mon Jan 4 (4), Tue Jan 5 (5)
    # => due 2027-01-05, provisional.
    assert package_calendar.add_working_days(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 5), True)
    assert package_calendar.is_workday(date(2027, 1, 1)) == (False, True)
    assert package_calendar.working_days_between(date(2026, 12, 28), date(2027, 1, 5)) == (5, True)
    # A span that stays inside 2026 is definitive.
    assert package_calendar.add_working_days(date(2026, 12, 18), 5) == Deadline(date(2026, 12, 25), False)
    assert package_calendar.working_days_between(date(2026, 12, 18), date(2026, 12, 31)) == (9, False)


def test_provisional_rule_is_weekdays_except_fixed_date_holidays(package_calendar: WorkCalendar) -> None:
    assert package_calendar.is_workday(date(2027, 1, 4)) == (True, True)  # Monday
    assert package_calendar.is_workday(date(2027, 1, 2)) == (False, True)  # Saturday
    assert package_calendar.is_workday(date(2027, 1, 1)) == (False, True)  # 元旦, a Friday
    assert package_calendar.is_workday(date(2028, 5, 1)) == (False, True)  # 劳动节, a Monday
    assert package_calendar.is_workday(date(2028, 5, 2)) == (False, True)  # 劳动节 2nd day since 2025
    assert package_calendar.is_workday(date(2027, 10, 1)) == (False, True)  # 国庆节
    assert package_calendar.is_workday(date(2029, 10, 3)) == (False, True)
    assert package_calendar.is_workday(date(2029, 10, 4)) == (True, True)
    # Years before the package's data are unknown too.
    assert package_calendar.is_workday(date(2003, 1, 1)) == (False, True)


@pytest.mark.parametrize("day", [date.min, date.max, date(1, 12, 31), date(9999, 1, 1), date(2100, 2, 28)])
def test_is_workday_never_raises(package_calendar: WorkCalendar, day: date) -> None:
    working, provisional = package_calendar.is_workday(day)
    assert isinstance(working, bool)
    assert provisional is True


def test_calendar_agrees_with_the_package_on_every_day_it_covers(package_calendar: WorkCalendar) -> None:
    assert package_calendar.known_years == set(range(2004, 2027))
    day = date(2004, 1, 1)
    while day.year <= 2026:
        assert package_calendar.is_workday(day) == (chinese_calendar.is_workday(day), False), day
        day += timedelta(days=1)


def test_working_days_between_inverts_add_working_days(package_calendar: WorkCalendar) -> None:
    for accepted in (date(2026, 2, 12), date(2025, 9, 26), date(2026, 12, 1), date(2024, 12, 27)):
        for days in range(0, 46):
            deadline = package_calendar.add_working_days(accepted, days)
            assert package_calendar.working_days_between(accepted, deadline.due) == (
                days,
                deadline.provisional,
            )
    # End before start: no time used.
    assert package_calendar.working_days_between(date(2026, 3, 10), date(2026, 3, 2)) == (0, False)


def test_negative_or_non_integer_days_are_rejected(package_calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        package_calendar.add_working_days(date(2026, 3, 2), -1)
    with pytest.raises(ValueError):
        package_calendar.add_working_days(date(2026, 3, 2), 1.5)  # type: ignore[arg-type]


def test_datetimes_count_as_their_date(package_calendar: WorkCalendar) -> None:
    deadline = package_calendar.add_working_days(datetime(2026, 2, 12, 16, 30), 5)
    assert deadline == Deadline(date(2026, 2, 26), False)
    assert type(deadline.due) is date
    assert package_calendar.is_workday(datetime(2026, 2, 16, 9, 0)) == (False, False)


def test_imported_year_file_makes_deadline_definitive(tmp_path: Path) -> None:
    calendar = WorkCalendar.from_chinese_calendar()
    # Invented for this test only: NOT the real 2027 arrangement.
    path = write_year_file(
        tmp_path,
        {
            "year": 2027,
            "source": "test fixture, invented",
            "holidays": ["2027-01-01", "2027-01-04"],
            "workdays": ["2027-01-09"],
        },
    )
    assert calendar.load_year_file(path) == 2027
    assert 2027 in calendar.known_years
    assert calendar.source(2027) == "test fixture, invented"
    # Accepted Mon 2026-12-28 -> Tue 29 (1), Wed 30 (2), Thu 31 (3), [Fri Jan 1 off, weekend,
    # Mon Jan 4 off by the file], Tue Jan 5 (4), Wed Jan 6 (5) => due 2027-01-06, definitive.
    assert calendar.add_working_days(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 6), False)
    # The file's make-up workday on Saturday Jan 9 counts: Thu 7 (6), Fri 8 (7), Sat 9 (8).
    assert calendar.add_working_days(date(2026, 12, 28), 8) == Deadline(date(2027, 1, 9), False)
    assert calendar.is_workday(date(2027, 5, 1)) == (False, False)  # a Saturday
    assert calendar.is_workday(date(2027, 5, 3)) == (True, False)  # not listed: a plain Monday


def test_next_years_notice_may_arrange_late_december(tmp_path: Path) -> None:
    calendar = WorkCalendar()
    calendar.add_year(2030, holidays=[], workdays=[], source="plain year")
    # Invented: a 2031 notice making Sat 2030-12-28 a make-up workday and Tue 2030-12-31 a holiday.
    calendar.add_year(2031, holidays=[date(2030, 12, 31), date(2031, 1, 1)], workdays=[date(2030, 12, 28)])
    assert calendar.is_workday(date(2030, 12, 28)) == (True, False)
    assert calendar.is_workday(date(2030, 12, 31)) == (False, False)
    assert calendar.is_workday(date(2030, 12, 30)) == (True, False)
    assert calendar.known_years == {2030, 2031}


def test_package_carries_late_december_days_of_the_next_notice(package_calendar: WorkCalendar) -> None:
    # The 2019 notice made Sat 2018-12-29 a workday and Mon 2018-12-31 a day off.
    assert package_calendar.is_workday(date(2018, 12, 29)) == (True, False)
    assert package_calendar.is_workday(date(2018, 12, 31)) == (False, False)


def test_adding_a_year_replaces_its_earlier_data(package_calendar: WorkCalendar) -> None:
    calendar = WorkCalendar.from_chinese_calendar()
    calendar.add_year(2026, holidays=[date(2026, 3, 2)], workdays=[], source="correction")
    assert calendar.is_workday(date(2026, 3, 2)) == (False, False)
    assert calendar.is_workday(date(2026, 2, 16)) == (True, False)  # the package's data for 2026 is gone
    assert calendar.source(2026) == "correction"
    assert package_calendar.is_workday(date(2026, 3, 2)) == (True, False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([], "one JSON object"),
        ({"year": 2027, "holidays": [], "workdays": []}, "source"),
        ({"year": 2027, "source": " ", "holidays": [], "workdays": []}, "source"),
        ({"year": "2027", "source": "s", "holidays": [], "workdays": []}, "year"),
        ({"year": 2027, "source": "s", "holidays": ["2027-01-01"]}, "workdays"),
        ({"year": 2027, "source": "s", "holidays": ["20270101"], "workdays": []}, "YYYY-MM-DD"),
        ({"year": 2027, "source": "s", "holidays": ["2027-02-30"], "workdays": []}, "not a real date"),
        (
            {"year": 2027, "source": "s", "holidays": ["2028-01-01"], "workdays": []},
            "listed in the data for 2027",
        ),
        (
            {"year": 2027, "source": "s", "holidays": ["2026-11-30"], "workdays": []},
            "listed in the data for 2027",
        ),
        ({"year": 2027, "source": "s", "holidays": [], "workdays": ["2027-01-04"]}, "Saturday or Sunday"),
        (
            {"year": 2027, "source": "s", "holidays": ["2027-01-09"], "workdays": ["2027-01-09"]},
            "both as holiday and as make-up workday",
        ),
        ({"year": 2027, "source": "s", "holiday": [], "workdays": []}, "unknown keys"),
    ],
)
def test_malformed_year_file_is_rejected_and_changes_nothing(
    tmp_path: Path, content: object, message: str
) -> None:
    calendar = WorkCalendar()
    path = write_year_file(tmp_path, content)
    with pytest.raises(ValueError, match=message) as info:
        calendar.load_year_file(path)
    assert str(path) in str(info.value)
    assert calendar.known_years == set()


def test_unreadable_year_file_is_a_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        WorkCalendar().load_year_file(bad)
    with pytest.raises(ValueError, match="cannot read"):
        WorkCalendar().load_year_file(tmp_path / "missing.json")


def test_default_calendar_holds_the_package_and_every_shipped_year_file() -> None:
    calendar = default_calendar()
    assert calendar is default_calendar()  # built once
    assert set(range(2004, 2027)) <= calendar.known_years
    for path in CALENDAR_DATA_DIR.glob("*.json"):
        assert WorkCalendar().load_year_file(path) in calendar.known_years
    assert (CALENDAR_DATA_DIR / "README.md").exists()


def test_module_functions_use_the_default_calendar_or_the_one_given() -> None:
    assert add_working_days(date(2026, 2, 12), 5) == Deadline(date(2026, 2, 26), False)
    assert is_workday(date(2026, 2, 14)) == (True, False)
    assert working_days_between(date(2026, 2, 12), date(2026, 2, 26)) == (5, False)
    empty = WorkCalendar()
    assert is_workday(date(2026, 2, 14), empty) == (False, True)
    assert add_working_days(date(2026, 2, 12), 5, empty) == Deadline(date(2026, 2, 19), True)
    assert working_days_between(date(2026, 2, 12), date(2026, 2, 19), empty) == (5, True)
