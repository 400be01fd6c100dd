"""Business-time arithmetic (tiers.sla), by properties and by worked examples."""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiers.models import BusinessCalendar
from tiers.sla import (
    ALWAYS_OPEN,
    Calendar,
    add_business_seconds,
    add_business_time,
    business_seconds_between,
    business_time_between,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

CALENDARS = {
    "utc-office": Calendar(),
    "new-york-with-holidays": Calendar(tz=NEW_YORK, holidays=holidays.country_holidays("US")),
    # Built the way the admin's calendars are: public holidays of a country plus company days off.
    "berlin-six-days": BusinessCalendar(
        time_zone="Europe/Berlin", work_days="1,2,3,4,5,6", work_start=time(8, 0), work_end=time(16, 30),
        holiday_country="DE",
    ).to_calendar([date(2026, 12, 24)]),
    # Working hours that contain the DST gap (02:00–03:00 on spring-forward day) and the repeated hour in autumn.
    "new-york-night-shift": Calendar(tz=NEW_YORK, work_days=frozenset(range(7)), start=time(1, 0), end=time(5, 0)),
    "tokyo-weekend-desk": Calendar(tz=ZoneInfo("Asia/Tokyo"), work_days=frozenset({5, 6}),
                                   start=time(10, 0), end=time(18, 0)),
}

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
calendars = st.sampled_from(sorted(CALENDARS))


def inside_working_time(moment, calendar):
    local = moment.astimezone(calendar.tz)
    opens, closes = calendar.window(local.date())
    return calendar.is_working_day(local.date()) and opens <= moment <= closes


@settings(max_examples=300, deadline=None)
@given(start=moments, amount=amounts, name=calendars)
def test_adding_then_measuring_gives_back_the_amount(start, amount, name):
    calendar = CALENDARS[name]
    end = add_business_time(start, amount, calendar)
    assert business_time_between(start, end, calendar) == amount


@settings(max_examples=300, deadline=None)
@given(start=moments, amount=amounts.filter(lambda a: a > timedelta(0)), name=calendars)
def test_results_never_land_outside_working_hours(start, amount, name):
    calendar = CALENDARS[name]
    assert inside_working_time(add_business_time(start, amount, calendar), calendar)


@settings(max_examples=300, deadline=None)
@given(a=moments, b=moments, amount=amounts, more=amounts, name=calendars)
def test_monotonic_in_the_start_and_in_the_amount(a, b, amount, more, name):
    calendar = CALENDARS[name]
    early, late = sorted([a, b])
    assert add_business_time(early, amount, calendar) <= add_business_time(late, amount, calendar)
    assert add_business_time(early, amount, calendar) <= add_business_time(early, amount + more, calendar)


@settings(max_examples=200, deadline=None)
@given(a=moments, b=moments, name=calendars)
def test_measuring_is_antisymmetric_and_never_exceeds_the_real_gap(a, b, name):
    calendar = CALENDARS[name]
    assert business_time_between(a, b, calendar) == -business_time_between(b, a, calendar)
    assert abs(business_time_between(a, b, calendar)) <= abs(b - a)


@settings(max_examples=200, deadline=None)
@given(start=moments, first=amounts, second=amounts, name=calendars)
def test_adding_twice_is_adding_the_sum(start, first, second, name):
    calendar = CALENDARS[name]
    twice = add_business_time(add_business_time(start, first, calendar), second, calendar)
    assert twice == add_business_time(start, first + second, calendar)


@settings(max_examples=100, deadline=None)
@given(start=moments, amount=amounts)
def test_24x7_counts_every_second(start, amount):
    assert add_business_time(start, amount, ALWAYS_OPEN) == start + amount
    assert business_time_between(start, start + amount, ALWAYS_OPEN) == amount


def ny(*args):
    return datetime(*args, tzinfo=NEW_YORK)


def test_weekends_are_skipped():
    office = CALENDARS["new-york-with-holidays"]
    friday_4pm = ny(2026, 3, 13, 16, 0)
    assert add_business_time(friday_4pm, timedelta(hours=2), office) == ny(2026, 3, 16, 10, 0)  # Monday 10:00


def test_public_holidays_are_skipped():
    office = CALENDARS["new-york-with-holidays"]
    # Friday 2026-07-03 is the observed Independence Day holiday.
    thursday_4pm = ny(2026, 7, 2, 16, 0)
    assert add_business_time(thursday_4pm, timedelta(hours=2), office) == ny(2026, 7, 6, 10, 0)
    assert business_time_between(ny(2026, 7, 3, 0, 0), ny(2026, 7, 6, 0, 0), office) == timedelta(0)


def test_company_days_off_are_skipped():
    berlin = CALENDARS["berlin-six-days"]
    before = datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN)
    # 24th: company day off; 25th and 26th: public holidays; 27th: Sunday.
    assert add_business_time(before, timedelta(hours=1), berlin) == datetime(2026, 12, 28, 8, 30, tzinfo=BERLIN)


def test_across_midnight_outside_hours_starts_next_morning():
    office = Calendar()
    late = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
    assert add_business_seconds(late, 1800, office) == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert business_seconds_between(late, datetime(2026, 11, 25, 9, 30, tzinfo=UTC), office) == 1800


def test_dst_change_keeps_local_office_hours():
    office = CALENDARS["new-york-with-holidays"]
    # Clocks go forward on Sunday 2026-03-08. Friday 9:00 EST + 9 h → Monday 10:00 EDT.
    result = add_business_time(ny(2026, 3, 6, 9, 0), timedelta(hours=9), office)
    assert result == ny(2026, 3, 9, 10, 0)
    assert result.utcoffset() == timedelta(hours=-4)
    assert ny(2026, 3, 6, 9, 0).utcoffset() == timedelta(hours=-5)


def test_dst_change_inside_working_hours_counts_real_time():
    night = CALENDARS["new-york-night-shift"]
    day = lambda d: business_time_between(ny(2026, *d, 0, 0), ny(2026, *d, 23, 0), night)  # noqa: E731
    assert day((3, 7)) == timedelta(hours=4)
    assert day((3, 8)) == timedelta(hours=3)  # 02:00–03:00 does not exist
    assert day((11, 1)) == timedelta(hours=5)  # 01:00–02:00 happens twice


def test_naive_moments_and_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        add_business_time(datetime(2026, 1, 1, 10, 0), timedelta(hours=1), Calendar())
    with pytest.raises(ValueError):
        add_business_time(datetime(2026, 1, 1, 10, 0, tzinfo=UTC), timedelta(hours=-1), Calendar())


def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(ValueError):
        add_business_time(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1), Calendar(work_days=frozenset()))
    with pytest.raises(ValueError):
        Calendar(start=time(17, 0), end=time(9, 0))
