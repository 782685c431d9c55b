"""The one clock of every Weimin process.

Instants are UTC (``utcnow``); dates are as the halls see them, China Standard Time (UTC+8, no
daylight saving): "today" at a window is ``today_cn()``, never the server's local date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_cn() -> date:
    return datetime.now(CHINA).date()


def local_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date()
