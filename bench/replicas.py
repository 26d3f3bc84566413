"""`python -m bench.replicas [--postgres URL] [--quick] [--write]`

Scale-out benchmark (issue 9): acknowledgement latency and timeline ingest of two replicas
of `python -m bot` on one PostgreSQL database, with the requests split between them as a
load balancer would, compared with one replica on SQLite (and one on PostgreSQL, to tell the
database's share from the second replica's). Everything on 127.0.0.1, the fake Web API
answering after 0.2 s as in `bench.run`. The PostgreSQL server is --postgres or
TEST_DATABASE_URL (`source .ci/postgres` starts a throwaway one); each set-up gets a fresh
database. --write puts the table in its own section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench import load
from bench.load import DECLARE, MESSAGE, NOTE, Phase, Prepared, percentile
from bench.report import RESULTS
from bench.targets import INCIDENTS, SIGNING_SECRET, Target, launch_bot
from storage.db import Database
from tests.fakes.slack_api import FakeSlack
from tests.support.postgres import fresh_database

GENERAL = "CGENERAL1"
START = "<!-- bench.replicas: start -->"
END = "<!-- bench.replicas: end -->"


@dataclass(frozen=True)
class Config:
    ingest: int
    requests: int
    concurrency: int
    latency: float
    settle: float


@dataclass(frozen=True)
class Result:
    name: str
    ingest_ack_p50: float
    ingest_ack_p99: float
    ingest_per_second: float
    command_ack_p50: float
    command_ack_p99: float
    commands_per_second: float
    lost: int
    duplicated: int
    errors: int


def say(message: str) -> None:
    print(f"[bench.replicas] {message}", file=sys.stderr, flush=True)


async def split_closed_loop(
    targets: Sequence[Target], requests: Sequence[Prepared], concurrency: int
) -> Phase:
    """Round-robin over the replicas (a load balancer), `concurrency` senders in all."""
    share = max(1, concurrency // len(targets))
    phases = await asyncio.gather(
        *(
            load.closed_loop(target.url, requests[i :: len(targets)], share)
            for i, target in enumerate(targets)
        )
    )
    merged = Phase(wall=max(p.wall for p in phases))
    for phase in phases:
        merged.samples.extend(phase.samples)
    return merged


class Counts:
    """Reads what the replicas stored, through the bot's own storage layer."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    async def one(self, sql: str) -> int:
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar() or 0)

    async def p1(self) -> tuple[int, str] | None:
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT id, channel_id FROM incident WHERE severity = 'P1'")
                )
            ).first()
        return (row[0], row[1]) if row and row[1] else None

    async def messages(self) -> int:
        return await self.one("SELECT count(*) FROM timeline_event WHERE kind = 'message'")

    async def until(self, sql: str, want: int, within: float) -> int:
        deadline = time.monotonic() + within
        while True:
            got = await self.one(sql)
            if got >= want or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.02)


async def measure(
    name: str, url: str, replicas: int, cfg: Config, fake: FakeSlack, work: Path
) -> Result:
    say(f"{name}: starting {replicas} replica(s)")
    targets: list[Target] = []
    counts = Counts(url)
    try:
        for i in range(replicas):
            targets.append(await launch_bot(work / name, fake.base_url, f"bot{i}", url))
        factory = load.RequestFactory(SIGNING_SECRET, fake.url)
        declare = factory.command(DECLARE, "declare P1 Bench checkout outage", channel=GENERAL)
        await load.closed_loop(targets[0].url, [declare], 1)
        deadline = time.monotonic() + 30
        while (found := await counts.p1()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the P1's channel was not created within 30 s")
            await asyncio.sleep(0.05)
        _, channel = found

        say(f"{name}: ingest of {cfg.ingest} message events")
        messages = [
            factory.message(channel, f"ingest {i}: p95 back under 300 ms", f"UUSER{i % 20}")
            for i in range(cfg.ingest)
        ]
        started = time.perf_counter()
        ingest = await split_closed_loop(targets, messages, cfg.concurrency)
        sql = "SELECT count(*) FROM timeline_event WHERE kind = 'message'"
        stored = await counts.until(sql, cfg.ingest, cfg.settle)
        ingest_seconds = time.perf_counter() - started

        say(f"{name}: {cfg.requests} commands (help, declare P3, note)")
        mixed = factory.mix(load.COMMAND_KINDS, cfg.requests, channel=channel, elsewhere=GENERAL)
        commands = await split_closed_loop(targets, mixed, cfg.concurrency)
        declares = commands.sent(DECLARE)
        notes = commands.sent(NOTE)
        got_declares = await counts.until(
            "SELECT count(*) FROM incident WHERE severity = 'P3'", declares, cfg.settle
        )
        got_notes = await counts.until(
            "SELECT count(*) FROM timeline_event WHERE kind = 'note'", notes, cfg.settle
        )
        # Same event twice to different replicas (Slack's retry, split by the balancer).
        again = messages[0]
        await asyncio.gather(*(load.closed_loop(t.url, [again], 1) for t in targets))
        await asyncio.sleep(0.5)
        final_messages = await counts.messages()
        acks = [s.seconds for s in commands.samples]
        ingest_acks = [s.seconds for s in ingest.samples if s.kind == MESSAGE]
        return Result(
            name=name,
            ingest_ack_p50=percentile(ingest_acks, 50),
            ingest_ack_p99=percentile(ingest_acks, 99),
            ingest_per_second=stored / ingest_seconds,
            command_ack_p50=percentile(acks, 50),
            command_ack_p99=percentile(acks, 99),
            commands_per_second=commands.rate(),
            lost=(cfg.ingest - stored) + (declares - got_declares) + (notes - got_notes),
            duplicated=max(0, final_messages - cfg.ingest)
            + max(0, got_declares - declares)
            + max(0, got_notes - notes),
            errors=ingest.errors() + commands.errors(),
        )
    finally:
        for target in targets:
            with contextlib.suppress(Exception):
                await target.stop()
        await counts.db.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def markdown(results: list[Result], cfg: Config, command: str) -> str:
    lines = [
        START,
        "## Several replicas (issue 9)",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores",
        f"- Load: {cfg.ingest} message events, then {cfg.requests} commands (help, declare "
        f"P3, note), at concurrency {cfg.concurrency} in all, split round-robin over the "
        f"replicas; fake Web API at {cfg.latency:g} s",
        "",
        "| Set-up | Ingest ack p50 / p99 | Ingest stored/s | Command ack p50 / p99 "
        "| Commands/s | Lost | Duplicated | Not 200 |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {ms(r.ingest_ack_p50)} / {ms(r.ingest_ack_p99)} "
            f"| {r.ingest_per_second:.0f} | {ms(r.command_ack_p50)} / {ms(r.command_ack_p99)} "
            f"| {r.commands_per_second:.0f} | {r.lost} | {r.duplicated} | {r.errors} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's own section of RESULTS.md (appended the first time), keeping
    everything else, including the hand-written analysis after it."""
    current = path.read_text() if path.exists() else ""
    if START in current and END in current:
        head, rest = current.split(START, 1)
        tail = rest.split(END, 1)[1]
        path.write_text(head + section + tail)
    else:
        path.write_text(current.rstrip("\n") + "\n\n" + section + "\n")


async def run(cfg: Config, server: str) -> list[Result]:
    fake = FakeSlack()
    await fake.start()
    fake.add_channel(INCIDENTS, "incidents")
    fake.add_channel(GENERAL, "general")
    fake.latency = cfg.latency
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="incident-bench-replicas-") as tmp:
            work = Path(tmp)
            sqlite = f"sqlite:///{work / 'one.db'}"
            results.append(await measure("1 replica, SQLite", sqlite, 1, cfg, fake, work))
            for replicas in (1, 2):
                async with fresh_database(server) as url:
                    name = f"{replicas} replica{'s' if replicas > 1 else ''}, PostgreSQL"
                    results.append(await measure(name, url, replicas, cfg, fake, work))
    finally:
        await fake.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--postgres", help="PostgreSQL server URL (default TEST_DATABASE_URL)")
    parser.add_argument("--quick", action="store_true", help="a few requests: a smoke run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    args = parser.parse_args(argv)
    server = args.postgres or os.environ.get("TEST_DATABASE_URL")
    if not server:
        print("bench.replicas: give --postgres URL or set TEST_DATABASE_URL", file=sys.stderr)
        return 2
    cfg = Config(
        ingest=40 if args.quick else 2000,
        requests=30 if args.quick else 1500,
        concurrency=args.concurrency,
        latency=0.2,
        settle=60.0,
    )
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python", "-m", "bench.replicas", *given])
    section = markdown(asyncio.run(run(cfg, server)), cfg, command)
    print(section)
    if args.write:
        write_section(section)
        say(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
