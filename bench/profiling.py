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


def summarize_stacks(path: Path, top: int = 15) -> dict[str, Any]:
    """Inclusive and self share of samples per function, from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {
        "samples": total,
        "inclusive": [(f, n / total) for f, n in inclusive.most_common(top)] if total else [],
        "self": [(f, n / total) for f, n in own.most_common(top)] if total else [],
    }


def stacks_markdown(summary: dict[str, Any], title: str) -> str:
    lines = [f"#### {title} ({summary['samples']} samples while busy)", ""]
    parts = (("Inclusive (the function and what it calls)", "inclusive"), ("Self", "self"))
    for heading, key in parts:
        lines += [f"{heading}:", "", "| share | function |", "| ---: | --- |"]
        lines += [f"| {share:.0%} | `{frame}` |" for frame, share in summary[key]]
        lines.append("")
    return "\n".join(lines)


def pyinstrument_text(profiler: Any, max_lines: int = 40) -> str:
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    return "\n".join(text.splitlines()[:max_lines])
