"""The Home tab's Block Kit: within Slack's 100 blocks however many incidents are open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.views import View

from bot.ui.home import HomeData, Pending, home_view
from storage.models import Incident

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def _incidents(n: int) -> list[Incident]:
    return [
        Incident(
            id=i,
            title=f"Problem number {i} <!channel>",
            severity="P1" if i % 2 else "P3",
            commander_id="UALICE1",
            declared_by="UALICE1",
            declared_at=NOW - timedelta(minutes=i),
            channel_id=f"C{i:08d}" if i % 2 else None,
            last_update="rolled back" if i == 1 else None,
            last_update_at=NOW if i == 1 else None,
        )
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize(("count", "pending"), [(0, 0), (5, 2), (97, 0), (150, 40)])
def test_home_view_fits_in_100_blocks_and_counts_the_rest(count, pending):
    items = [Pending(f"Acknowledge the page for INC-{i}") for i in range(pending)]
    view = home_view(HomeData("UBOB1", NOW, "CINCIDENTS", _incidents(count), items))
    View(**view).validate_json()
    blocks = view["blocks"]
    assert len(blocks) <= 100
    shown = sum(1 for b in blocks if b["type"] == "section" and "*INC-" in b["text"]["text"])
    texts = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    if shown < count:
        assert len(blocks) == 100
        assert f"…and {count - shown} more open incidents" in texts[0]
    else:
        assert not any("more open incidents" in t for t in texts)


def test_user_text_is_escaped_and_the_last_update_shown():
    view = home_view(HomeData("UBOB1", NOW, "CINCIDENTS", _incidents(2)))
    first = view["blocks"][3]["text"]["text"]
    assert "&lt;!channel&gt;" in first and "<!channel>" not in first
    assert "_Last update 12:00 UTC:_ rolled back" in first
    second = view["blocks"][4]["text"]["text"]
    assert "thread in <#CINCIDENTS>" in second and "open 2 min" in second
