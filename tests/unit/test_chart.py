"""The chart is a PNG of the expected size, for a year of weeks or for none."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.chart import HEIGHT, WIDTH, render
from bot.insights import Week
from bot.severity import Severity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_MAGIC, "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def _weeks(n: int) -> list[Week]:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    return [
        Week(
            start + timedelta(days=7 * i),
            {s: (i + k) % 4 for k, s in enumerate(Severity)},
            (i % 5) * 1800.0 if i % 3 else None,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("weeks", [0, 1, 5, 53])
def test_chart_is_a_png_of_the_expected_size(weeks):
    data = render(_weeks(weeks), "Incidents per week — last 90 days")
    assert png_size(data) == (WIDTH, HEIGHT) == (1200, 600)
    assert len(data) > 5000  # something was drawn
