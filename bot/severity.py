"""The runbook's severity table and the incident statuses."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def has_channel(self) -> bool:
        """P1/P2 get their own channel; P3/P4 live as a thread in #incidents."""
        return self in (Severity.P1, Severity.P2)

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def response_target(self) -> str:
        return _TARGETS[self]

    @property
    def emoji(self) -> str:
        return _EMOJI[self]

    @classmethod
    def parse(cls, text: str) -> Severity | None:
        try:
            return cls(text.strip().upper())
        except ValueError:
            return None


_LABELS = {
    Severity.P1: "P1 — Critical",
    Severity.P2: "P2 — High",
    Severity.P3: "P3 — Medium",
    Severity.P4: "P4 — Low",
}
_TARGETS = {
    Severity.P1: "Immediate (24/7)",
    Severity.P2: "< 30 min (business hours)",
    Severity.P3: "< 2 hours",
    Severity.P4: "Next business day",
}
_EMOJI = {
    Severity.P1: ":red_circle:",
    Severity.P2: ":large_orange_circle:",
    Severity.P3: ":large_yellow_circle:",
    Severity.P4: ":white_circle:",
}


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @classmethod
    def parse(cls, text: str) -> Status | None:
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None
