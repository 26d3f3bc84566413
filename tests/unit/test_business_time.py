from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.business_time import BusinessCalendar
from bot.severity import Severity

BERLIN = ZoneInfo("Europe/Berlin")
CAL = BusinessCalendar(time(9), time(17), {0, 1, 2, 3, 4}, BERLIN)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_p1_is_immediate_and_p3_two_hours():
    at = utc(2026, 3, 14, 3, 0)  # a Saturday night
    assert CAL.response_due(Severity.P1, at) is None
    assert CAL.response_due(Severity.P3, at) == utc(2026, 3, 14, 5, 0)


def test_p2_counts_thirty_minutes_of_business_hours():
    monday_10_berlin = utc(2026, 3, 16, 9, 0)  # 10:00 CET
    assert CAL.response_due(Severity.P2, monday_10_berlin) == utc(2026, 3, 16, 9, 30)
    saturday = utc(2026, 3, 14, 12, 0)
    # Opens Monday 09:00 Berlin = 08:00 UTC, plus 30 minutes.
    assert CAL.response_due(Severity.P2, saturday) == utc(2026, 3, 16, 8, 30)


def test_p4_is_the_next_business_day():
    friday_noon = utc(2026, 3, 13, 11, 0)
    assert CAL.response_due(Severity.P4, friday_noon) == utc(2026, 3, 16, 8, 0)
    tuesday_early = utc(2026, 3, 17, 5, 0)  # 06:00 Berlin, before opening: still next day
    assert CAL.response_due(Severity.P4, tuesday_early) == utc(2026, 3, 18, 8, 0)


def test_summer_time_is_respected():
    # Berlin is UTC+2 from 29 March 2026: opening 09:00 is 07:00 UTC.
    assert CAL.next_opening(utc(2026, 3, 31, 18, 0)) == utc(2026, 4, 1, 7, 0)


def test_p2_carries_over_closing_time_into_the_next_business_day():
    friday_1650_berlin = utc(2026, 3, 13, 15, 50)  # 16:50 CET, ten minutes before closing
    # Ten minutes on Friday, twenty on Monday from 09:00 CET (08:00 UTC).
    assert CAL.response_due(Severity.P2, friday_1650_berlin) == utc(2026, 3, 16, 8, 20)
