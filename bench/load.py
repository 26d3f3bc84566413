"""The load generator: signed requests built the way Slack sends them (slash commands as form
bodies, events as JSON, like tests/support/slack_sender.py), sent over loopback at a fixed
concurrency (closed loop) or at a fixed rate (open loop), timing each acknowledgement."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

TEAM = "T1"
APP = "A1"
HELP, DECLARE, NOTE, MESSAGE = "help", "declare", "note", "message"
COMMAND_KINDS = (HELP, DECLARE, NOTE)
ALL_KINDS = (HELP, DECLARE, NOTE, MESSAGE)
REQUEST_TIMEOUT = 10.0  # far past Slack's 3 s, so a slow ack is measured, not cut off
OPEN_LOOP_CONNECTIONS = 200
# Any path opens the connection; a 404 costs the server nothing (/healthz would query the
# database, and can take seconds on a bot that is still catching up).
WARM_UP = "/bench-warm-up"


@dataclass(frozen=True)
class Prepared:
    kind: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Sample:
    kind: str
    seconds: float
    ok: bool


@dataclass
class Phase:
    """What one run of the generator saw."""

    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0

    def of(self, kinds: Iterable[str] | None = None) -> list[Sample]:
        wanted = set(kinds) if kinds is not None else None
        return [s for s in self.samples if wanted is None or s.kind in wanted]

    def sent(self, kind: str) -> int:
        return sum(1 for s in self.samples if s.kind == kind)

    def errors(self) -> int:
        return sum(1 for s in self.samples if not s.ok)

    def rate(self) -> float:
        return len(self.samples) / self.wall if self.wall else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): an observed value, never an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latencies(samples: Iterable[Sample]) -> list[float]:
    return [s.seconds for s in samples]


class RequestFactory:
    """Builds signed requests; ids, titles and message timestamps are unique per factory."""

    def __init__(self, signing_secret: str, response_url_base: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.response_url_base = response_url_base.rstrip("/")
        self._n = itertools.count(1)
        # Message ts a minute in the past plus a counter in the microseconds: unique per
        # channel (the timeline's unique key) and plausible for the bot's "sent at".
        self._ts_base = int(time.time()) - 60

    def _signed(self, kind: str, body: str, content_type: str) -> Prepared:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }
        return Prepared(kind, body.encode(), headers)

    def command(self, kind: str, text: str, *, channel: str, user: str = "UALICE1") -> Prepared:
        n = next(self._n)
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "bench",
            "channel_id": channel,
            "channel_name": "somewhere",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": APP,
            "response_url": f"{self.response_url_base}/response/bench-{n}",
            "trigger_id": f"trigger-{n}",
        }
        return self._signed(kind, urlencode(form), "application/x-www-form-urlencoded")

    def message(self, channel: str, text: str, user: str) -> Prepared:
        n = next(self._n)
        ts = f"{self._ts_base + n // 1_000_000}.{n % 1_000_000:06d}"
        envelope = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": APP,
            "type": "event_callback",
            "event_id": f"EvBENCH{n:08d}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": channel,
                "channel_type": "channel",
                "user": user,
                "text": text,
                "ts": ts,
                "event_ts": ts,
            },
        }
        return self._signed(MESSAGE, json.dumps(envelope), "application/json")

    def of_kind(self, kind: str, *, channel: str, elsewhere: str) -> Prepared:
        """One request of a kind; notes and messages go to the incident channel."""
        n = next(self._n)
        if kind == HELP:
            return self.command(HELP, "help", channel=elsewhere)
        if kind == DECLARE:
            # Words unique to this request: no title sounds like another open incident, so
            # every declare really declares instead of asking "join INC-n instead?".
            title = f"Queue{n} lag{n} region{n}"
            return self.command(DECLARE, f"declare P3 {title}", channel=elsewhere)
        if kind == NOTE:
            text = f"note checked dashboard {n}: error rate back to baseline"
            return self.command(NOTE, text, channel=channel)
        if kind == MESSAGE:
            text = f"seeing 503s again from <@UBOB{n % 7}> on the checkout path, retry {n}"
            return self.message(channel, text, user=f"UUSER{n % 20}")
        raise ValueError(kind)

    def mix(
        self, kinds: Sequence[str], count: int, *, channel: str, elsewhere: str
    ) -> list[Prepared]:
        """`count` requests, the kinds interleaved round-robin (many people at once)."""
        return [
            self.of_kind(kinds[i % len(kinds)], channel=channel, elsewhere=elsewhere)
            for i in range(count)
        ]


class Poster:
    """One HTTP client with its own connections; post() says whether the answer was a 200."""

    async def post(self, url: str, request: Prepared) -> bool:
        raise NotImplementedError

    async def get(self, url: str) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class HttpxPoster(Poster):
    def __init__(self, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits)

    async def post(self, url: str, request: Prepared) -> bool:
        try:
            response = await self.http.post(url, content=request.body, headers=request.headers)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def get(self, url: str) -> None:
        await self.http.get(url)

    async def aclose(self) -> None:
        await self.http.aclose()


class AiohttpPoster(Poster):
    def __init__(self, connections: int) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def post(self, url: str, request: Prepared) -> bool:
        try:
            async with self.session.post(url, data=request.body, headers=request.headers) as r:
                await r.read()
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def get(self, url: str) -> None:
        async with self.session.get(url) as response:
            await response.read()

    async def aclose(self) -> None:
        await self.session.close()


# Why aiohttp is the default: measured against the bare Bolt reference on 2 cores at
# concurrency 50, httpx costs ~1.3 ms of generator CPU per request (one shared pool of 50
# connections: ~2.7 ms, p99 0.8 s), so the generator saturates its core at 300-650 req/s
# while the reference idles at 0.15 cores: the figures would measure httpx, not the app.
# aiohttp's client sends the same bytes for ~0.13 ms per request.
CLIENTS = {"aiohttp": AiohttpPoster, "httpx": HttpxPoster}


@contextlib.contextmanager
def steady_generator() -> Iterator[None]:
    """No garbage collection in this process while a phase is timed. A full collection of the
    bench's heap (the fake Slack's recorded calls, the samples) stopped the generator for about
    100 ms in the middle of a phase, and every request in flight was timed that much slower:
    the reference's second round showed it in three runs of four (p99 93-99 ms against
    22-40 ms in its other rounds). Collected between phases instead."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def closed_loop(
    url: str, requests: Sequence[Prepared], concurrency: int, client: str = "aiohttp"
) -> Phase:
    """`concurrency` senders, each with its own connection (like one person each), sending
    its next request as soon as the last was answered."""
    phase = Phase()
    pending: Iterator[Prepared] = iter(requests)
    endpoint = url + "/slack/events"
    posters = [CLIENTS[client](1) for _ in range(concurrency)]

    async def sender(poster: Poster) -> None:
        # One shared iterator: next() has no await, so senders never take the same request.
        for request in pending:
            started = time.perf_counter()
            ok = await poster.post(endpoint, request)
            phase.samples.append(Sample(request.kind, time.perf_counter() - started, ok))

    try:
        # Connect first so no timed request pays for a TCP handshake.
        await asyncio.gather(*(poster.get(url + WARM_UP) for poster in posters))
        with steady_generator():
            started = time.perf_counter()
            await asyncio.gather(*(sender(poster) for poster in posters))
            phase.wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*(poster.aclose() for poster in posters))
    return phase


async def open_loop(
    url: str, requests: Sequence[Prepared], rate: float, client: str = "aiohttp"
) -> Phase:
    """One request every 1/rate seconds whatever the answers; latency counts from when the
    request was due, so a generator or server falling behind shows up in the figures."""
    phase = Phase()
    endpoint = url + "/slack/events"
    poster = CLIENTS[client](OPEN_LOOP_CONNECTIONS)

    async def one(request: Prepared, due: float) -> None:
        ok = await poster.post(endpoint, request)
        phase.samples.append(Sample(request.kind, time.perf_counter() - due, ok))

    try:
        await poster.get(url + WARM_UP)
        tasks: list[asyncio.Task[None]] = []
        with steady_generator():
            started = time.perf_counter()
            for i, request in enumerate(requests):
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(request, due)))
            await asyncio.gather(*tasks)
            phase.wall = time.perf_counter() - started
    finally:
        await poster.aclose()
    return phase
