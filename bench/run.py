"""`python -m bench.run [--requests N] [--concurrency C] [--latency S] [--quick] [--write]`

One bounded run that stops by itself, everything on 127.0.0.1: a fake Slack Web API that
answers every call after --latency seconds; start-up time and idle memory of `python -m bot`;
the bare Bolt reference, then the bot, under the same load generator (timeline ingest, mixed
commands and messages at a fixed concurrency, commands at 200/s, and a Web API slower than
Slack's 3 s deadline); a postmortem of a 50,000-row timeline. Prints a Markdown table with
the issue's targets; --write also puts it in bench/RESULTS.md, --json FILE the raw figures,
--profile adds py-spy and pyinstrument profiles (bench-only tools, installed by hand)."""

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

import aiohttp

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
# Raw py-spy stacks stay here after the run (flamegraph tools read them).
PROFILES = Path(tempfile.gettempdir()) / "incident-bench-profiles"
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
    warmup: int  # untimed commands first, so no figure includes first-call costs
    rounds: int  # mixed phases, each bot round right after a reference round
    paced: int
    ingest: int
    slow: int
    timeline_rows: int
    startups: int
    postmortem_runs: int
    settle_timeout: float  # how long stored rows may lag behind the acks, at most
    profile: bool
    client: str

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
            warmup=max(8, requests // 20),
            rounds=args.rounds or (1 if args.quick else 3),
            paced=requests,
            ingest=requests,
            slow=max(8, requests // 10),
            timeline_rows=args.timeline_rows or (500 if args.quick else 50_000),
            startups=1 if args.quick else 3,
            postmortem_runs=1 if args.quick else 3,
            settle_timeout=20.0 if args.quick else 120.0,
            profile=args.profile,
            client=args.client,
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


def pooled(phases: list[Phase]) -> Phase:
    """Several runs of a phase as one: every sample, the walls added up."""
    return Phase([s for p in phases for s in p.samples], sum(p.wall for p in phases))


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

    def elapsed(self) -> float:
        return time.perf_counter() - self.wall

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
        "profiles": {},
    }
    bot = await _startups(cfg, work, fake, targets, results)
    factory = load.RequestFactory(SIGNING_SECRET, fake.url)
    reference = await _start_reference(cfg, work, fake, targets, results, factory)

    if bot is None:
        say("bot: in-process start_http")
        bot = await start_bot_in_process(work / "in-process", fake.base_url)
        targets.append(bot)
    assert bot.db_path is not None
    db = BotDb(bot.db_path)
    incident_id, channel = await declare_p1(bot, factory, db)
    # Ingest first, once the P1's own Slack writes are out: a clean figure for the timeline,
    # not one shared with the thousands of outbox jobs the command phases queue.
    await outbox_settled(bot, cfg.settle_timeout)
    ingest = await _ingest(cfg, bot, db, incident_id, channel, factory, results)
    phases = await _commands(
        cfg, bot, reference, db, incident_id, ingest.sent(MESSAGE), channel, factory, results, fake
    )

    sent = {MESSAGE: ingest.sent(MESSAGE), NOTE: 0, DECLARE: 0}
    for phase in phases:
        for kind in sent:
            sent[kind] += phase.sent(kind)
    counts = await wait_until_stored(db, incident_id, sent, cfg.settle_timeout)
    results["stored"] = {kind: {"sent": sent[kind], "stored": counts[kind]} for kind in sent}
    every = (ingest, *phases)
    results["max_ack"] = max(s.seconds for phase in every for s in phase.samples)
    results["http_errors"] = sum(phase.errors() for phase in every)
    results["rss"]["peak_kb"] = memory_kb(bot.pid)["VmHWM"] if bot.pid is not None else None
    results["bot_log_errors"] = log_errors(bot)
    await bot.stop()
    targets.remove(bot)

    say(f"postmortem of {cfg.timeline_rows:,} timeline rows")
    pm = await postmortem.measure(
        cfg.timeline_rows,
        fake.base_url,
        work / "postmortem",
        cfg.postmortem_runs,
        profile=cfg.profile,
    )
    if pm.profile:
        results["profiles"]["postmortem"] = pm.profile
    results["postmortem"] = asdict(pm)
    return results


async def _startups(
    cfg: Config, work: Path, fake: FakeSlack, targets: list[Target], results: dict[str, Any]
) -> Target | None:
    """Start-up time and idle memory, always of `python -m bot` in a subprocess on a fresh
    database, then a restart on a database a start has set up. The last fresh one stays up
    as the bot under load (unless --in-process)."""
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
    # A restart, the usual start (a deploy): the same database, its schema already current.
    # A database of its own, first started and stopped: the bot kept for the load phases
    # must not have a second process on its file.
    say("restart on a database one start has set up")
    first = await launch_bot(work / "restart", fake.base_url)
    targets.append(first)
    await first.stop()
    targets.remove(first)
    again = await launch_bot(work / "restart", fake.base_url)
    targets.append(again)
    assert again.started_in is not None and again.pid is not None
    await asyncio.sleep(IDLE_SETTLE)
    restart_kb = memory_kb(again.pid)["VmRSS"]
    await again.stop()
    targets.remove(again)
    results["startup"] = {
        "runs": startups,
        "median": statistics.median(startups),
        "restart": again.started_in,
    }
    results["rss"] = {"idle_kb": max(idle), "idle_runs_kb": idle, "restart_idle_kb": restart_kb}
    return bot


async def _start_reference(
    cfg: Config,
    work: Path,
    fake: FakeSlack,
    targets: list[Target],
    results: dict[str, Any],
    factory: load.RequestFactory,
) -> Target:
    """The bare Bolt app, started and warmed up; measured in rounds beside the bot's."""
    say("reference: bare Bolt app")
    if cfg.in_process:
        reference = await start_reference_in_process(fake.base_url)
    else:
        reference = await launch_reference(work / "reference", fake.base_url)
    targets.append(reference)
    idle = None
    if reference.pid is not None:
        await asyncio.sleep(IDLE_SETTLE)
        idle = memory_kb(reference.pid)["VmRSS"]
    warm = factory.mix(COMMAND_KINDS, cfg.warmup, channel=GENERAL, elsewhere=GENERAL)
    await load.closed_loop(reference.url, warm, cfg.concurrency, cfg.client)
    results["startup"]["reference"] = reference.started_in if reference.pid else math.nan
    results["rss"].update(reference_idle_kb=idle, reference_peak_kb=None)
    return reference


async def idle_cpu(target: Target, within: float, below: float = 0.05) -> float:
    """Wait (at most `within` s) until the target uses under `below` of a core over a quarter
    of a second; how long that took. The reference is measured only beside an idle bot."""
    started = time.perf_counter()
    if target.pid is None:
        return 0.0
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = cpu_seconds(target.pid)
        await asyncio.sleep(0.25)
        if cpu_seconds(target.pid) - before < below * 0.25:
            break
    return time.perf_counter() - started


async def _ingest(
    cfg: Config,
    bot: Target,
    db: BotDb,
    incident_id: int,
    channel: str,
    factory: load.RequestFactory,
    results: dict[str, Any],
) -> Phase:
    """Message events into the incident channel; stored/s counts until the last row is in."""
    say(f"bot: timeline ingest of {cfg.ingest} message events")
    before = db.counts(incident_id)[MESSAGE]
    messages = [
        factory.message(channel, f"ingest {i}: p95 back under 300 ms", f"UUSER{i % 20}")
        for i in range(cfg.ingest)
    ]
    spy = await _spy(cfg, bot, "ingest")
    started = time.perf_counter()
    with Meter(results, "bot: ingest (until stored)", bot):
        phase = await load.closed_loop(bot.url, messages, cfg.concurrency, cfg.client)
        want = {MESSAGE: before + cfg.ingest}
        stored = (await wait_until_stored(db, incident_id, want, cfg.settle_timeout))[MESSAGE]
    seconds = time.perf_counter() - started
    if spy is not None:
        await spy.stop()
        results["profiles"]["ingest"] = profiling.summarize_stacks(spy.output, spy.elapsed)
    stored -= before
    results["ingest"] = {
        "events": cfg.ingest,
        "stored": stored,
        "lost": cfg.ingest - stored,
        "seconds": seconds,
        "per_second": stored / seconds,
        **summary(phase.samples, phase.wall),
    }
    return phase


async def _commands(
    cfg: Config,
    bot: Target,
    reference: Target,
    db: BotDb,
    incident_id: int,
    ingested: int,
    channel: str,
    factory: load.RequestFactory,
    results: dict[str, Any],
    fake: FakeSlack,
) -> tuple[Phase, ...]:
    """An untimed warm-up, the mixed phase (closed loop) in rounds, commands at a fixed rate,
    and a mixed phase while the Web API is slower than Slack's 3 s deadline. Between phases
    the work acknowledged so far must land (the bot acks first and works after), so each phase
    starts from a bot that has caught up; how long that took is reported: it is the backlog
    the fast acks hid.

    Each round runs the reference's mixed phase (the bot idle beside it) and then the bot's:
    this shared machine's speed drifts by a third within minutes, and a ratio of two figures
    taken minutes apart measured the drift as much as the bot."""
    sent = {MESSAGE: ingested, NOTE: 0, DECLARE: 0}

    async def landed(phase: Phase) -> float:
        finished = time.perf_counter()
        for kind in sent:
            sent[kind] += phase.sent(kind)
        await wait_until_stored(db, incident_id, sent, cfg.settle_timeout)
        return time.perf_counter() - finished

    warm = await load.closed_loop(
        bot.url,
        factory.mix(COMMAND_KINDS, cfg.warmup, channel=channel, elsewhere=GENERAL),
        cfg.concurrency,
        cfg.client,
    )
    await landed(warm)

    rounds: list[dict[str, Any]] = []
    ref_phases: list[Phase] = []
    bot_phases: list[Phase] = []
    for i in range(1, cfg.rounds + 1):
        waited = await idle_cpu(bot, cfg.settle_timeout)
        say(f"round {i}/{cfg.rounds}: reference, then bot, {cfg.requests} mixed requests")
        bot_cpu = cpu_seconds(bot.pid) if bot.pid else math.nan
        with Meter(results, f"reference: mixed commands, round {i}", reference) as meter:
            ref_phase = await load.closed_loop(
                reference.url,
                factory.mix(COMMAND_KINDS, cfg.requests, channel=GENERAL, elsewhere=GENERAL),
                cfg.concurrency,
                cfg.client,
            )
        beside = (cpu_seconds(bot.pid) - bot_cpu) / meter.elapsed() if bot.pid else math.nan
        # The profile covers the first round's phase only, not the work landing after it.
        spy = await _spy(cfg, bot, "load") if i == 1 else None
        with Meter(results, f"bot: mixed, round {i}", bot):
            mixed = await load.closed_loop(
                bot.url,
                factory.mix(ALL_KINDS, cfg.requests, channel=channel, elsewhere=GENERAL),
                cfg.concurrency,
                cfg.client,
            )
        if spy is not None:
            await spy.stop()
            results["profiles"]["load"] = profiling.summarize_stacks(spy.output, spy.elapsed)
        rounds.append(
            {
                "reference": by_kind(ref_phase, COMMAND_KINDS),
                "bot": by_kind(mixed, ALL_KINDS),
                "landed_after": await landed(mixed),
                "bot_idle_wait": waited,
                "bot_cores_beside_reference": beside,
            }
        )
        ref_phases.append(ref_phase)
        bot_phases.append(mixed)
    if reference.pid is not None:
        results["rss"]["reference_peak_kb"] = memory_kb(reference.pid)["VmHWM"]
    results["rounds"] = rounds
    results["reference"] = by_kind(pooled(ref_phases), COMMAND_KINDS)
    results["bot"] = by_kind(pooled(bot_phases), ALL_KINDS)
    results["bot"]["all"]["landed_after"] = max(r["landed_after"] for r in rounds)

    say(f"bot: {cfg.paced} commands at {cfg.rate:g}/s")
    with Meter(results, f"bot: {cfg.rate:g}/s", bot):
        paced = await load.open_loop(
            bot.url,
            factory.mix(COMMAND_KINDS, cfg.paced, channel=channel, elsewhere=GENERAL),
            cfg.rate,
            cfg.client,
        )
    results["paced"] = {**summary(paced.samples, paced.wall), "target_rate": cfg.rate}
    # While the bot is still working through what it acknowledged: a platform's health
    # check has a deadline too.
    results["healthz_after_load"], results["paced"]["landed_after"] = await asyncio.gather(
        healthz_seconds(bot), landed(paced)
    )

    say(f"bot: {cfg.slow} mixed requests while the Web API takes {cfg.slow_latency:g} s")
    fake.latency = cfg.slow_latency
    try:
        with Meter(results, f"bot: Web API at {cfg.slow_latency:g} s", bot):
            slow = await load.closed_loop(
                bot.url,
                factory.mix(ALL_KINDS, cfg.slow, channel=channel, elsewhere=GENERAL),
                cfg.concurrency,
                cfg.client,
            )
    finally:
        fake.latency = cfg.latency
    results["slow"] = {"latency": cfg.slow_latency, **summary(slow.samples, slow.wall)}
    return warm, *bot_phases, paced, slow


async def _spy(cfg: Config, bot: Target, name: str) -> profiling.SpyRecorder | None:
    if not cfg.profile or bot.pid is None:
        return None
    PROFILES.mkdir(exist_ok=True)
    spy = profiling.SpyRecorder(bot.pid, PROFILES / f"{name}.stacks")
    say(f"profile: py-spy stacks in {spy.output}")
    await spy.start()
    return spy


async def healthz_seconds(target: Target) -> float:
    """How long GET /healthz takes right now (a platform's health check has a deadline)."""
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            session.get(target.url + "/healthz") as response,
        ):
            await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return math.inf
    return time.perf_counter() - started


async def outbox_settled(target: Target, within: float) -> None:
    """Wait (at most `within` s) until /healthz reports no Slack write pending."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(target.url + "/healthz") as response:
                if (await response.json()).get("outbox_pending") == 0:
                    return
            await asyncio.sleep(0.05)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="The benchmark of issue 7 (bench/RESULTS.md)."
    )
    parser.add_argument("--requests", type=int, help="requests per load phase (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="senders at once (50)")
    parser.add_argument("--latency", type=float, default=0.2, help="Web API latency, s (0.2)")
    parser.add_argument(
        "--client",
        choices=sorted(load.CLIENTS),
        default="aiohttp",
        help="HTTP client of the load generator (aiohttp: see bench/load.py for why)",
    )
    parser.add_argument("--rounds", type=int, help="mixed-phase rounds (default 3; quick 1)")
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
