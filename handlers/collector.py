"""Full garbage collections while no requests come in, and cheap when they cannot wait.

CPython runs a full collection whenever enough objects have survived, with the event loop
stopped for the whole walk: 20-60 ms once a burst has left its work in memory (measured in
the bot under the bench), and every request arriving meanwhile waits that long. So:

- the automatic full pass is off; this task runs it once no request has started for `IDLE`
  seconds (and FULL_AT_LEAST passed since the last one), or anyway after FULL_AT_MOST, so a
  steady stream of requests cannot put it off for ever (cyclic garbage stays bounded);
- after each pass the survivors are frozen (`gc.freeze`): the next pass walks only what was
  allocated since, not everything the process holds (start-up alone is ~130,000 objects, 70 ms);
- frozen objects that die in a cycle are not freed by those passes, so every DEEP_AT_LEAST
  (when idle; DEEP_AT_MOST whatever the load) the frozen objects are thawed and walked too.

"Idle" is measured from when requests start, not whether one is being answered at this
instant: one event loop answers them one after another, so "none in progress" is true between
any two requests of a burst, and a 50 ms pass there delays every request of the burst behind it.
Young generations are still collected as usual (a few ms)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator

# Seconds without a request starting before the process counts as idle.
IDLE = 0.25
# Seconds between full collections, at least (when idle) and at most (whatever the load).
FULL_AT_LEAST = 2.0
FULL_AT_MOST = 10.0
# Seconds between deep ones (the frozen objects walked as well): at least and at most.
DEEP_AT_LEAST = 300.0
DEEP_AT_MOST = 1800.0
CHECK_EVERY = 0.05
# A threshold for the oldest generation that is never reached: only this task collects it.
_NEVER = 1_000_000


class Collector:
    """Decides when to collect; `tick` is called every CHECK_EVERY with the time since the
    last request started. The clock is injected (tests move it)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.last_full = self.last_deep = now()

    def tick(self, since_request: float) -> str | None:
        """Collect if due: "full", "deep", or None when not."""
        at = self.now()
        idle = since_request >= IDLE
        if at - self.last_deep >= DEEP_AT_MOST or (idle and at - self.last_deep >= DEEP_AT_LEAST):
            gc.unfreeze()
            gc.collect(2)
            gc.freeze()
            self.last_full = self.last_deep = self.now()
            return "deep"
        if at - self.last_full >= FULL_AT_MOST or (idle and at - self.last_full >= FULL_AT_LEAST):
            gc.collect(2)
            gc.freeze()
            self.last_full = self.now()
            return "full"
        return None


@contextlib.contextmanager
def automatic_full_pass_off() -> Iterator[None]:
    """CPython's own full collection off (young generations as usual), back on after."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


async def collect_when_idle(since_request: Callable[[], float]) -> None:
    """Run for the process's life (cancel to stop): the automatic full pass stays off."""
    collector = Collector()
    with automatic_full_pass_off():
        while True:
            await asyncio.sleep(CHECK_EVERY)
            collector.tick(since_request())
