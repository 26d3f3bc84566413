"""Fixtures of the end-to-end tests that start the bot as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.process import BotProcess


@pytest.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    """Bot processes a test started; killed at its end whatever happened."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.kill()
