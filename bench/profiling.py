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
import time
from pathlib import Path
from typing import Any

SAMPLE_RATE = 200  # per second
ROOT = str(Path(__file__).resolve().parents[1]) + "/"
OWN_CODE = ("(bot/", "(handlers/", "(storage/")
IDLE = ("select (selectors.py)", "EpollSelector.select (selectors.py)")


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
        self.elapsed = 0.0
        self._started = 0.0

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
            # Without pausing the bot per sample: pausing halved its ingest rate when tried.
            "--nonblocking",
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # let it attach before the load starts
        self._started = time.perf_counter()

    async def stop(self) -> None:
        self.elapsed = time.perf_counter() - self._started
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGINT)
            await self._proc.wait()


def _short(frame: str) -> str:
    """`name (path/to/module.py:12)` → `name (module.py)`: readable, stable across lines."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    path = path.removeprefix(ROOT)
    for marker in ("site-packages/", f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _thread(frames: list[str]) -> str:
    # Collapsed stacks carry no thread name; the roots tell the event loop from aiosqlite's
    # worker threads (one per connection) and the rest.
    if any(f.startswith("_connection_worker_thread ") for f in frames):
        return "sqlite"
    if any(f.startswith("_run_module_as_main ") for f in frames):
        return "loop"
    return "other"


def summarize_stacks(path: Path, elapsed: float, top: int = 12) -> dict[str, Any]:
    """The event loop's hottest functions from py-spy's collapsed stacks (inclusive: the
    function and what it calls; self: its own code), as shares of the loop's busy samples.
    Only the loop thread counts: py-spy cannot tell aiosqlite's idle workers (blocked in C)
    from busy ones, and the loop waiting in select() is idle, so both are left out; how busy
    the process was comes from /proc instead (the CPU table)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    project: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        if _thread(frames) != "loop" or frames[-1].startswith(IDLE):
            continue
        busy += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
            if any(layer in frame for layer in OWN_CODE) and "bot/__main__.py" not in frame:
                project[frame] += count
    total = busy or 1
    return {
        "seconds": elapsed,
        "samples": busy,
        # Frames under (nearly) every sample, the loop itself, say nothing: left out.
        "inclusive": [
            (f, n / total) for f, n in inclusive.most_common(top + 12) if n < 0.97 * total
        ][:top],
        "self": [(f, n / total) for f, n in own.most_common(top)],
        "project": [(f, n / total) for f, n in project.most_common(top)],
    }


def stacks_markdown(summary: dict[str, Any], title: str) -> str:
    lines = [
        f"#### {title}",
        "",
        f"py-spy over {summary['seconds']:.1f} s at {SAMPLE_RATE} samples/s; shares of the "
        f"event loop's {summary['samples']} busy samples (not waiting in select).",
        "",
    ]
    parts = (
        ("The bot's own code, inclusive", "project"),
        ("Any code, inclusive", "inclusive"),
        ("Any code, self", "self"),
    )
    for heading, key in parts:
        lines += [f"{heading}:", "", "| share | function |", "| ---: | --- |"]
        lines += [f"| {share:.0%} | `{frame}` |" for frame, share in summary[key]]
        lines.append("")
    return "\n".join(lines)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip("│├└─ "))


def _block(lines: list[str], first: int) -> list[str]:
    """The line at `first` and the lines under it, dedented."""
    base = _depth(lines[first])
    end = first + 1
    while end < len(lines) and (_depth(lines[end]) > base or not lines[end].strip()):
        end += 1
    return [line[base:] for line in lines[first:end] if line.strip()]


def pyinstrument_text(profiler: Any, start: str, max_lines: int = 45) -> str:
    """pyinstrument's call tree from the frame named `start` (the harness above it says
    nothing), plus the other roots the main thread ran: SQLAlchemy runs the ORM side of each
    query in a greenlet, which pyinstrument shows as a separate root."""
    lines = profiler.output_text(unicode=True, color=False, show_all=False).splitlines()
    at = next((i for i, line in enumerate(lines) if start in line), None)
    if at is None:
        return "\n".join(lines[:max_lines])
    out = _block(lines, at)[:max_lines]
    root = next(i for i, line in enumerate(lines) if "MainThread" in line)
    total = float(lines[root].split()[0])
    roots = [i for i in range(root + 1, len(lines)) if lines[i].startswith(("├─ ", "└─ "))]
    for i in roots:
        block = _block(lines, i)
        seconds = float(block[0].lstrip("├└─ ").split()[0])
        if start not in "\n".join(block) and seconds >= 0.05 * total:
            out += ["", "(another root: a greenlet of SQLAlchemy's, same thread)"]
            out += block[:12]
    return "\n".join(out)
