"""Full garbage collections are put off while requests wait for their answer, within a bound."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from handlers import collector


@pytest.fixture
def full_passes() -> Any:
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(2)

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


async def run_for(seconds: float, quiet: bool) -> None:
    task = asyncio.create_task(collector.collect_when_quiet(lambda: quiet))
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_full_collection_waits_for_quiet_and_the_threshold_comes_back(
    monkeypatch, full_passes
):
    before = gc.get_threshold()
    monkeypatch.setattr(collector, "FULL_AT_LEAST", 0.02)
    monkeypatch.setattr(collector, "FULL_AT_MOST", 60.0)
    monkeypatch.setattr(collector, "CHECK_EVERY", 0.01)
    await run_for(0.1, quiet=False)
    assert full_passes == []
    assert gc.get_threshold() == before
    await run_for(0.1, quiet=True)
    assert full_passes
    assert gc.get_threshold() == before


async def test_a_steady_stream_of_requests_cannot_put_it_off_for_ever(monkeypatch, full_passes):
    monkeypatch.setattr(collector, "FULL_AT_MOST", 0.03)
    monkeypatch.setattr(collector, "CHECK_EVERY", 0.01)
    await run_for(0.1, quiet=False)
    assert full_passes
