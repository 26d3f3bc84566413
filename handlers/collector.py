"""Full garbage collections at quiet moments. CPython runs one whenever enough objects have
survived, with the event loop stopped for the whole walk: 12-50 ms once the backlog of work
after a burst holds its requests in memory (measured in the bot under the bench). Every request
waiting for its answer at that moment waits that much longer. So the automatic full pass is
turned off, and this task runs it when no request is waiting for its answer, or anyway once
FULL_AT_MOST passed (a steady stream of requests cannot put it off for ever: cyclic garbage
is collected within that bound). Young generations are still collected as usual (short)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

# Seconds between full collections, at least (when quiet) and at most (whatever the load).
FULL_AT_LEAST = 2.0
FULL_AT_MOST = 10.0
CHECK_EVERY = 0.05
# A threshold for the oldest generation that is never reached: only this task collects it.
_NEVER = 1_000_000


async def collect_when_quiet(quiet: Callable[[], bool]) -> None:
    """Run for the process's life (cancel to stop): the automatic full pass stays off."""
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    last = time.monotonic()
    try:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            since = time.monotonic() - last
            if since >= FULL_AT_MOST or (since >= FULL_AT_LEAST and quiet()):
                gc.collect(2)
                last = time.monotonic()
    finally:
        gc.set_threshold(young, middle, _old)
