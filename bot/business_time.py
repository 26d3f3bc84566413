"""Business hours, for the severity table's "< 30 min (business hours)" and
"next business day" response targets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.severity import Severity


class BusinessCalendar:
    def __init__(self, opening: time, closing: time, days: set[int], zone: ZoneInfo) -> None:
        self.opening = opening
        self.closing = closing
        self.days = days
        self.zone = zone

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return local.weekday() in self.days and self.opening <= local.time() < self.closing

    def _opening_on(self, day: datetime) -> datetime:
        return datetime.combine(day.date(), self.opening, tzinfo=self.zone).astimezone(UTC)

    def next_opening(self, at: datetime, *, after_today: bool = False) -> datetime:
        """The next time business opens after `at` (or on a later day than `at`'s)."""
        local = at.astimezone(self.zone)
        for offset in range(0, 15):
            day = local + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            if offset == 0 and (after_today or local.time() >= self.opening):
                continue
            return self._opening_on(day)
        raise ValueError("no business day in the next two weeks")

    def _closing_on(self, at: datetime) -> datetime:
        local = at.astimezone(self.zone)
        return datetime.combine(local.date(), self.closing, tzinfo=self.zone).astimezone(UTC)

    def add_business_time(self, start: datetime, span: timedelta) -> datetime:
        """`span` of business time after `start`, carried over closing hours and days off."""
        at = start if self.is_open(start) else self.next_opening(start)
        left = span
        for _day in range(30):
            closing = self._closing_on(at)
            if at + left <= closing:
                return at + left
            left -= closing - at
            at = self.next_opening(at, after_today=True)
        raise ValueError("business time span too long")

    def response_due(self, severity: Severity, declared_at: datetime) -> datetime | None:
        """When the response target runs out; None for P1 (immediate: escalation covers it)."""
        if severity is Severity.P1:
            return None
        if severity is Severity.P2:
            return self.add_business_time(declared_at, timedelta(minutes=30))
        if severity is Severity.P3:
            return declared_at + timedelta(hours=2)
        return self.next_opening(declared_at, after_today=True)
