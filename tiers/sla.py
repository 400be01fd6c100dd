"""Business-time arithmetic: pure functions of moments and a calendar.

A `Calendar` says when support works: the days of the week, the hours of the
day in a time zone, and the dates that are holidays. Working windows are
computed per local date and turned into real instants, so a DST change moves
the window in UTC but never its local hours, and a duration is always counted
in real elapsed seconds inside the windows.

Nothing here touches the database; `tiers.models.BusinessCalendar` builds a
`Calendar` from its row.
"""
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
# A calendar with no working day in this many days is refused rather than
# searched forever (e.g. every weekday switched off).
MAX_DAYS_SEARCHED = 3 * 366
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo = UTC_ZONE
    work_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: Container[date] = field(default_factory=frozenset)
    always_open: bool = False  # 24×7: every second counts

    def __post_init__(self):
        if not self.always_open and not self.start < self.end:
            raise ValueError("A working day must end after it starts.")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.work_days and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The working window of a local date as UTC instants (whether or not it is a working day)."""
        opens = datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
        return opens, closes


ALWAYS_OPEN = Calendar(always_open=True)


def add_business_time(moment: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The moment `amount` of working time after `moment`.

    A zero amount returns `moment` unchanged; otherwise the result always lies
    inside a working window (its end included).
    """
    _check_aware(moment)
    if amount < ZERO:
        raise ValueError("Business time can only be added forward.")
    if calendar.always_open or amount == ZERO:
        return moment + amount
    remaining = amount
    cursor = moment.astimezone(UTC)
    day = moment.astimezone(calendar.tz).date()
    for _ in range(MAX_DAYS_SEARCHED):
        if calendar.is_working_day(day):
            opens, closes = calendar.window(day)
            cursor = max(cursor, opens)
            if cursor < closes:
                available = closes - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(moment.tzinfo)
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("The calendar has no working time within three years.")


def business_time_between(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """Working time from `start` to `end`; negative when `end` is before `start`."""
    _check_aware(start)
    _check_aware(end)
    if end < start:
        return -business_time_between(end, start, calendar)
    if calendar.always_open:
        return end - start
    total = ZERO
    day = start.astimezone(calendar.tz).date()
    last = end.astimezone(calendar.tz).date()
    while day <= last:
        if calendar.is_working_day(day):
            opens, closes = calendar.window(day)
            overlap = min(closes, end) - max(opens, start)
            if overlap > ZERO:
                total += overlap
        day += timedelta(days=1)
    return total


def add_business_seconds(moment: datetime, seconds: float, calendar: Calendar) -> datetime:
    return add_business_time(moment, timedelta(seconds=seconds), calendar)


def business_seconds_between(start: datetime, end: datetime, calendar: Calendar) -> float:
    return business_time_between(start, end, calendar).total_seconds()


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Business-time functions need time-zone-aware moments.")
