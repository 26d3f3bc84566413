"""Full garbage collections wait for a pause in requests, within a bound, and freeze what
survives so the next pass is short; deep passes thaw it again."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from handlers import collector


class Node:
    me: Node


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def full_passes() -> Any:
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(2)

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)
    gc.unfreeze()


def test_no_full_pass_while_requests_keep_starting(full_passes):
    clock = Clock()
    gc_ = collector.Collector(clock)
    for _ in range(int(collector.FULL_AT_MOST / collector.CHECK_EVERY) - 1):
        clock.at += collector.CHECK_EVERY
        assert gc_.tick(since_request=0.01) is None
    assert full_passes == []


def test_a_pause_in_requests_gets_a_full_pass_and_its_survivors_are_frozen(full_passes):
    clock = Clock()
    gc_ = collector.Collector(clock)
    clock.at += collector.FULL_AT_LEAST
    assert gc_.tick(since_request=collector.IDLE / 2) is None  # not idle long enough
    frozen = gc.get_freeze_count()
    survivor: list[Any] = [object()]
    survivor.append(survivor)  # tracked by the collector
    assert gc_.tick(since_request=collector.IDLE) == "full"
    assert full_passes == [2]
    assert gc.get_freeze_count() > frozen
    # Not again at once, even if still idle.
    clock.at += collector.FULL_AT_LEAST / 2
    assert gc_.tick(since_request=10.0) is None
    assert full_passes == [2]


def test_a_steady_stream_of_requests_cannot_put_it_off_for_ever(full_passes):
    clock = Clock()
    gc_ = collector.Collector(clock)
    clock.at += collector.FULL_AT_MOST
    assert gc_.tick(since_request=0.0) == "full"
    assert full_passes == [2]


def test_frozen_objects_are_walked_again_in_a_deep_pass(full_passes):
    clock = Clock()
    gc_ = collector.Collector(clock)
    clock.at += collector.FULL_AT_LEAST
    assert gc_.tick(since_request=collector.IDLE) == "full"
    # A cycle frozen by a pass, then dropped: only a deep pass can free it.
    lost = Node()
    lost.me = lost
    freed = weakref.ref(lost)
    gc.freeze()
    del lost
    clock.at += collector.DEEP_AT_LEAST
    assert gc_.tick(since_request=0.0) == "full"  # busy: an ordinary pass, the cycle stays
    assert freed() is not None
    clock.at += collector.FULL_AT_LEAST
    assert gc_.tick(since_request=collector.IDLE) == "deep"
    assert freed() is None
    clock.at = gc_.last_deep + collector.DEEP_AT_MOST
    assert gc_.tick(since_request=0.0) == "deep"  # load cannot put it off for ever


async def test_the_task_turns_the_automatic_full_pass_off_and_back_on(monkeypatch):
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    asked = asyncio.Event()

    def since_request() -> float:
        seen.append(gc.get_threshold())
        asked.set()
        return 0.0

    monkeypatch.setattr(collector, "CHECK_EVERY", 0.001)
    task = asyncio.create_task(collector.collect_when_idle(since_request))
    await asyncio.wait_for(asked.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[0][:2] == before[:2] and seen[0][2] > 100_000
    assert gc.get_threshold() == before
