"""`--profile`: where the time goes. py-spy samples the bot's process from outside while the
load runs (no change to the bot, little overhead with --nonblocking); pyinstrument profiles
the postmortem render, which runs in this process. Both are bench-only tools:
`.venv/bin/pip install py-spy pyinstrument`."""

from __future__ import annotations

import asyncio
import collections
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

SAMPLE_RATE = 200  # per second


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy pyinstrument")
    return found


class SpyRecorder:
    """py-spy record on a running process, collapsed stacks to a file, stopped with SIGINT."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            py_spy(),
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(SAMPLE_RATE),
            "--format",
            "raw",
            "--nonblocking",
            "--idle",
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # let it attach before the load starts

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGINT)
            await self._proc.wait()


def _short(frame: str) -> str:
    """`name (path/to/module.py:12)` → `name (module.py)`: readable, stable across lines."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _thread(frames: list[str]) -> str:
    # Collapsed stacks carry no thread name; the roots tell the event loop from aiosqlite's
    # one worker thread per connection (where SQLite's C code runs, out of the loop's way).
    if any(f.startswith("_connection_worker_thread ") for f in frames):
        return "sqlite"
    if any(f.startswith("_run_module_as_main ") for f in frames):
        return "loop"
    return "other"


def _idle(thread: str, leaf: str) -> bool:
    if thread == "loop":
        return leaf.startswith(("select (selectors.py)", "EpollSelector.select "))
    return leaf.startswith(("wait (threading.py)", "Condition.wait ", "get (queue.py)"))


def summarize_stacks(path: Path, top: int = 12) -> dict[str, Any]:
    """From py-spy's collapsed stacks (recorded with --idle): how busy the event loop was,
    how much SQLite work ran in aiosqlite's threads, and the loop's hottest functions
    (inclusive: the function and what it calls; self: the function's own code)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    samples: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        thread = _thread(frames)
        samples[thread] += count
        if _idle(thread, frames[-1]):
            continue
        samples[thread + "_busy"] += count
        if thread == "loop":
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    loop_total = samples["loop"] or 1
    busy = samples["loop_busy"] or 1
    return {
        "samples": samples["loop"],
        "loop_busy": samples["loop_busy"] / loop_total,
        # SQLite threads' busy samples per loop sample: cores' worth of SQLite work.
        "sqlite_cores": samples["sqlite_busy"] / loop_total,
        # Frames under every busy sample (the loop itself) say nothing; leave them out.
        "inclusive": [(f, n / busy) for f, n in inclusive.most_common(top + 12) if n < 0.97 * busy][
            :top
        ],
        "self": [(f, n / busy) for f, n in own.most_common(top)],
    }


def stacks_markdown(summary: dict[str, Any], title: str) -> str:
    lines = [
        f"#### {title}",
        "",
        f"{summary['samples']} samples of the event loop at {SAMPLE_RATE}/s: the loop was busy "
        f"{summary['loop_busy']:.0%} of the time; aiosqlite's threads ran SQLite for "
        f"{summary['sqlite_cores']:.2f} cores' worth. Shares below are of the loop's busy "
        "samples (framework frames included).",
        "",
    ]
    parts = (("Inclusive", "inclusive"), ("Self", "self"))
    for heading, key in parts:
        lines += [f"{heading}:", "", "| share | function |", "| ---: | --- |"]
        lines += [f"| {share:.0%} | `{frame}` |" for frame, share in summary[key]]
        lines.append("")
    return "\n".join(lines)


def pyinstrument_text(profiler: Any, max_lines: int = 40) -> str:
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    return "\n".join(text.splitlines()[:max_lines])
