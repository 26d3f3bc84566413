"""`python -m bench.run [--requests N] [--concurrency C] [--latency S] [--quick] [--write]`

One bounded run, everything on 127.0.0.1: a fake Slack Web API that answers every call after
--latency seconds; the bare Bolt reference, then the bot, under the same load generator;
timeline ingest; a postmortem of a long timeline; start-up time and memory. Prints a Markdown
table; --write also puts it in bench/RESULTS.md, --json FILE the raw figures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import load, postmortem, profiling, report
from bench.load import ALL_KINDS, COMMAND_KINDS, DECLARE, MESSAGE, NOTE, Phase, Sample
from bench.targets import (
    INCIDENTS,
    SIGNING_SECRET,
    Target,
    cpu_seconds,
    launch_bot,
    launch_reference,
    memory_kb,
    start_bot_in_process,
    start_reference_in_process,
)
from tests.fakes.slack_api import FakeSlack

GENERAL = "CGENERAL1"
IDLE_SETTLE = 1.0  # seconds after /healthz 200 before "idle" RSS is read


@dataclass(frozen=True)
class Config:
    requests: int
    concurrency: int
    latency: float
    quick: bool
    in_process: bool
    rate: float
    slow_latency: float
    paced: int
    ingest: int
    slow: int
    timeline_rows: int
    startups: int
    postmortem_runs: int
    settle_timeout: float  # how long stored rows may lag behind the acks, at most
    profile: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        requests = args.requests or (40 if args.quick else 2000)
        return cls(
            requests=requests,
            concurrency=args.concurrency,
            latency=args.latency,
            quick=args.quick,
            in_process=args.in_process,
            rate=200.0,
            slow_latency=5.0,
            paced=requests,
            ingest=requests,
            slow=max(8, requests // 10),
            timeline_rows=args.timeline_rows or (500 if args.quick else 50_000),
            startups=1 if args.quick else 3,
            postmortem_runs=1 if args.quick else 3,
            settle_timeout=20.0 if args.quick else 120.0,
            profile=args.profile,
        )


class BotDb:
    """Reads the bot's SQLite file (WAL: readers never block the bot's writers)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _one(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with contextlib.closing(sqlite3.connect(self.path, timeout=5)) as conn:
            return conn.execute(sql, tuple(params)).fetchone()

    def p1(self) -> tuple[int, str | None] | None:
        return self._one("SELECT id, channel_id FROM incident WHERE severity = 'P1'")

    def counts(self, incident_id: int) -> dict[str, int]:
        events = "SELECT count(*) FROM timeline_event WHERE incident_id = ? AND kind = ?"
        return {
            MESSAGE: self._one(events, (incident_id, "message"))[0],
            NOTE: self._one(events, (incident_id, "note"))[0],
            DECLARE: self._one("SELECT count(*) FROM incident WHERE severity = 'P3'")[0],
        }


async def wait_until_stored(
    db: BotDb, incident_id: int, expected: dict[str, int], within: float
) -> dict[str, int]:
    """Poll until every count reaches what was sent (or `within` s passed); the last counts."""
    deadline = time.monotonic() + within
    while True:
        counts = db.counts(incident_id)
        if all(counts[k] >= v for k, v in expected.items()) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.01)


def summary(samples: list[Sample], wall: float = 0.0) -> dict[str, Any]:
    values = load.latencies(samples)
    return {
        "count": len(values),
        "errors": sum(1 for s in samples if not s.ok),
        "p50": load.percentile(values, 50),
        "p99": load.percentile(values, 99),
        "max": max(values) if values else math.nan,
        "rate": len(values) / wall if wall else 0.0,
    }


def by_kind(phase: Phase, kinds: Iterable[str]) -> dict[str, Any]:
    result = {kind: summary(phase.of([kind])) for kind in kinds}
    result["all"] = summary(phase.samples, phase.wall)
    return result


class Meter:
    """Wall time and CPU of the target and of this process (generator + fake Slack) over a
    phase: a target at ~1.0 core is CPU-bound; a generator near 1.0 would be the bottleneck."""

    def __init__(self, results: dict[str, Any], name: str, target: Target) -> None:
        self.results, self.name, self.target = results, name, target

    def __enter__(self) -> Meter:
        self.wall = time.perf_counter()
        self.mine = time.process_time()
        self.theirs = cpu_seconds(self.target.pid) if self.target.pid else math.nan
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.wall
        theirs = cpu_seconds(self.target.pid) if self.target.pid else math.nan
        self.results.setdefault("phases", []).append(
            {
                "phase": self.name,
                "wall": wall,
                "target_cores": (theirs - self.theirs) / wall,
                "bench_cores": (time.process_time() - self.mine) / wall,
            }
        )


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def log_errors(target: Target) -> int | None:
    if target.log_path is None or not target.log_path.exists():
        return None
    return sum(" ERROR " in line for line in target.log_path.read_text().splitlines())


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def declare_p1(target: Target, factory: load.RequestFactory, db: BotDb) -> tuple[int, str]:
    """The incident the notes and messages go to, with its channel created (via the outbox)."""
    request = factory.command(DECLARE, "declare P1 Bench checkout outage", channel=GENERAL)
    phase = await load.closed_loop(target.url, [request], 1)
    if phase.errors():
        raise RuntimeError("declaring the P1 failed")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = db.p1()
        if found and found[1]:
            return found[0], found[1]
        await asyncio.sleep(0.02)
    raise RuntimeError("the P1's channel was not created within 30 s")


async def run(cfg: Config, command: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="incident-bench-") as tmp:
        work = Path(tmp)
        fake = FakeSlack()
        await fake.start()
        fake.add_channel(INCIDENTS, "incidents")
        fake.add_channel(GENERAL, "general")
        fake.latency = cfg.latency
        targets: list[Target] = []
        try:
            return await _run(cfg, command, work, fake, targets)
        finally:
            for target in targets:
                with contextlib.suppress(Exception):
                    await target.stop()
            await fake.stop()


async def _run(
    cfg: Config, command: str, work: Path, fake: FakeSlack, targets: list[Target]
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "config": {**asdict(cfg), "mode": "in-process" if cfg.in_process else "subprocess"},
    }

    # Start-up and idle memory: always `python -m bot` in a subprocess on a fresh database.
    startups: list[float] = []
    idle: list[int] = []
    bot: Target | None = None
    for i in range(cfg.startups):
        say(f"start-up {i + 1}/{cfg.startups}")
        launched = await launch_bot(work / f"start-{i}", fake.base_url)
        targets.append(launched)
        assert launched.started_in is not None and launched.pid is not None
        startups.append(launched.started_in)
        await asyncio.sleep(IDLE_SETTLE)
        idle.append(memory_kb(launched.pid)["VmRSS"])
        if i < cfg.startups - 1 or cfg.in_process:
            await launched.stop()
            targets.remove(launched)
        else:
            bot = launched

    factory = load.RequestFactory(SIGNING_SECRET, fake.url)

    # The reference, alone on the machine, under the same generator and mix of commands.
    say("reference: bare Bolt app")
    if cfg.in_process:
        reference = await start_reference_in_process(fake.base_url)
    else:
        reference = await launch_reference(work / "reference", fake.base_url)
    targets.append(reference)
    ref_idle = ref_peak = None
    if reference.pid is not None:
        await asyncio.sleep(IDLE_SETTLE)
        ref_idle = memory_kb(reference.pid)["VmRSS"]
    ref_requests = factory.mix(COMMAND_KINDS, cfg.requests, channel=GENERAL, elsewhere=GENERAL)
    with Meter(results, "reference: mixed commands", reference):
        ref_phase = await load.closed_loop(reference.url, ref_requests, cfg.concurrency)
    if reference.pid is not None:
        ref_peak = memory_kb(reference.pid)["VmHWM"]
    await reference.stop()
    targets.remove(reference)
    results["reference"] = by_kind(ref_phase, COMMAND_KINDS)

    if bot is None:
        say("bot: in-process start_http")
        bot = await start_bot_in_process(work / "in-process", fake.base_url)
        targets.append(bot)
    assert bot.db_path is not None
    db = BotDb(bot.db_path)
    incident_id, channel = await declare_p1(bot, factory, db)

    spy = None
    if cfg.profile and bot.pid is not None:
        spy = profiling.SpyRecorder(bot.pid, work / "load.stacks")
        await spy.start()
    say(f"bot: {cfg.requests} mixed requests at concurrency {cfg.concurrency}")
    with Meter(results, "bot: mixed", bot):
        mixed = await load.closed_loop(
            bot.url,
            factory.mix(ALL_KINDS, cfg.requests, channel=channel, elsewhere=GENERAL),
            cfg.concurrency,
        )
    results["bot"] = by_kind(mixed, ALL_KINDS)
    sent = {kind: mixed.sent(kind) for kind in (MESSAGE, NOTE, DECLARE)}

    say(f"bot: {cfg.paced} commands at {cfg.rate:g}/s")
    with Meter(results, f"bot: {cfg.rate:g}/s", bot):
        paced = await load.open_loop(
            bot.url,
            factory.mix(COMMAND_KINDS, cfg.paced, channel=channel, elsewhere=GENERAL),
            cfg.rate,
        )
    profiles: dict[str, Any] = {}
    if spy is not None:
        await spy.stop()
        profiles["load"] = profiling.summarize_stacks(spy.output)
        spy = None
    results["paced"] = {**summary(paced.samples, paced.wall), "target_rate": cfg.rate}
    for kind in (NOTE, DECLARE):
        sent[kind] += paced.sent(kind)

    # Ingest starts from a settled timeline, so the count is only this phase's messages.
    await wait_until_stored(db, incident_id, sent, cfg.settle_timeout)
    before = db.counts(incident_id)[MESSAGE]
    say(f"bot: timeline ingest of {cfg.ingest} message events")
    messages = [
        factory.message(channel, f"ingest {i}: p95 back under 300 ms", f"UUSER{i % 20}")
        for i in range(cfg.ingest)
    ]
    if cfg.profile and bot.pid is not None:
        spy = profiling.SpyRecorder(bot.pid, work / "ingest.stacks")
        await spy.start()
    started = time.perf_counter()
    with Meter(results, "bot: ingest (until stored)", bot):
        ingest = await load.closed_loop(bot.url, messages, cfg.concurrency)
        want = {MESSAGE: before + cfg.ingest}
        stored_now = (await wait_until_stored(db, incident_id, want, cfg.settle_timeout))[MESSAGE]
    ingest_seconds = time.perf_counter() - started
    if spy is not None:
        await spy.stop()
        profiles["ingest"] = profiling.summarize_stacks(spy.output)
    stored = stored_now - before
    results["ingest"] = {
        "events": cfg.ingest,
        "stored": stored,
        "lost": cfg.ingest - stored,
        "seconds": ingest_seconds,
        "per_second": stored / ingest_seconds,
        **summary(ingest.samples, ingest.wall),
    }
    sent[MESSAGE] += cfg.ingest

    say(f"bot: {cfg.slow} mixed requests while the Web API takes {cfg.slow_latency:g} s")
    fake.latency = cfg.slow_latency
    with Meter(results, f"bot: Web API at {cfg.slow_latency:g} s", bot):
        slow = await load.closed_loop(
            bot.url,
            factory.mix(ALL_KINDS, cfg.slow, channel=channel, elsewhere=GENERAL),
            cfg.concurrency,
        )
    fake.latency = cfg.latency
    results["slow"] = {"latency": cfg.slow_latency, **summary(slow.samples, slow.wall)}
    for kind in (MESSAGE, NOTE, DECLARE):
        sent[kind] += slow.sent(kind)

    counts = await wait_until_stored(db, incident_id, sent, cfg.settle_timeout)
    results["stored"] = {
        kind: {"sent": sent[kind], "stored": counts[kind]} for kind in (MESSAGE, NOTE, DECLARE)
    }
    phases = (mixed, paced, ingest, slow)
    results["max_ack"] = max(s.seconds for p in phases for s in p.samples)
    results["http_errors"] = sum(p.errors() for p in phases)
    peak = memory_kb(bot.pid)["VmHWM"] if bot.pid is not None else None
    results["bot_log_errors"] = log_errors(bot)
    await bot.stop()
    targets.remove(bot)

    results["startup"] = {
        "runs": startups,
        "median": statistics.median(startups),
        "reference": reference.started_in if reference.pid is not None else math.nan,
    }
    results["rss"] = {
        "idle_kb": max(idle),
        "idle_runs_kb": idle,
        "peak_kb": peak,
        "reference_idle_kb": ref_idle,
        "reference_peak_kb": ref_peak,
    }

    say(f"postmortem of {cfg.timeline_rows:,} timeline rows")
    pm = await postmortem.measure(
        cfg.timeline_rows,
        fake.base_url,
        work / "postmortem",
        cfg.postmortem_runs,
        profile=cfg.profile,
    )
    if pm.profile:
        profiles["postmortem"] = pm.profile
    results["postmortem"] = asdict(pm)
    results["profiles"] = profiles
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[2])
    parser.add_argument("--requests", type=int, help="requests per load phase (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="senders at once (50)")
    parser.add_argument("--latency", type=float, default=0.2, help="Web API latency, s (0.2)")
    parser.add_argument("--quick", action="store_true", help="a few requests: a smoke run")
    parser.add_argument("--timeline-rows", type=int, help="postmortem rows (50,000; quick 500)")
    parser.add_argument(
        "--in-process", action="store_true", help="bot and reference in this process (skews)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the bot, pyinstrument the postmortem"
    )
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config.from_args(args)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.run", *given])
    results = asyncio.run(run(cfg, command))
    all_rows = report.rows(results)
    text = report.markdown(results, all_rows)
    print(text)
    if args.write:
        report.write_results(text)
        say(f"wrote {report.RESULTS}")
    if args.json:
        results["rows"] = [asdict(row) for row in all_rows]
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
