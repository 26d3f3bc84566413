"""The results as a Markdown table with the issue's targets and PASS/FAIL per row, and
bench/RESULTS.md. Rows have stable keys so the smoke test can check every one is there."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASS, FAIL, INFO = "PASS", "FAIL", "—"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# Everything below this line in RESULTS.md is written by hand (the profile and what changed
# because of it) and kept when --write regenerates the rest.
KEEP_MARKER = "<!-- written by hand below; kept by `python -m bench.run --write` -->"
ROW_KEYS = (
    "ack_help",
    "ack_declare",
    "ack_note",
    "ack_message",
    "throughput",
    "ack_paced",
    "max_ack",
    "ingest_rate",
    "ingest_ack",
    "lost",
    "http_errors",
    "healthz",
    "postmortem_time",
    "postmortem_memory",
    "timeline_query",
    "startup",
    "idle_rss",
    "peak_rss",
)


@dataclass(frozen=True)
class Row:
    key: str
    measure: str
    bot: str
    reference: str
    ratio: str
    target: str
    result: str


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def mb(kilobytes: float | None) -> str:
    return "n/a" if kilobytes is None else f"{kilobytes / 1024:.1f} MB"


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def ratio(bot: float, reference: float) -> float:
    return bot / reference if reference > 0 else math.inf


def rows(r: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    ref, bot = r["reference"], r["bot"]
    names = {
        "help": "Ack `/incident help`, p50 / p99",
        "declare": "Ack `/incident declare P3 …`, p50 / p99",
        "note": "Ack `/incident note …` in the incident channel, p50 / p99",
    }
    rounds = r["rounds"]
    for kind, label in names.items():
        # Each round's ratio is of two phases run back to back; the median of the rounds'
        # ratios is the figure, each round's is shown beside it.
        b = {p: statistics.median(x["bot"][kind][p] for x in rounds) for p in ("p50", "p99")}
        f = {p: statistics.median(x["reference"][kind][p] for x in rounds) for p in ("p50", "p99")}
        per_round = [ratio(x["bot"][kind]["p99"], x["reference"][kind]["p99"]) for x in rounds]
        r50 = statistics.median(
            ratio(x["bot"][kind]["p50"], x["reference"][kind]["p50"]) for x in rounds
        )
        r99 = statistics.median(per_round)
        each = ", ".join(f"×{x:.2f}" for x in per_round)
        out.append(
            Row(
                f"ack_{kind}",
                label + (f" (median of {len(rounds)} rounds)" if len(rounds) > 1 else ""),
                f"{ms(b['p50'])} / {ms(b['p99'])}",
                f"{ms(f['p50'])} / {ms(f['p99'])}",
                f"×{r50:.2f} / ×{r99:.2f}"
                + (f" (p99 by round: {each})" if len(rounds) > 1 else ""),
                "p99 ≤ 1.5× reference",
                verdict(r99 <= 1.5),
            )
        )
    m = bot["message"]
    out.append(
        Row(
            "ack_message",
            "Ack `message` event in the incident channel, p50 / p99",
            f"{ms(m['p50'])} / {ms(m['p99'])}",
            "—",
            "—",
            "—",
            INFO,
        )
    )
    out.append(
        Row(
            "throughput",
            f"Requests/s at concurrency {r['config']['concurrency']} (mixed phase)",
            f"{bot['all']['rate']:.0f} (work done {bot['all']['landed_after']:.1f} s "
            "after the last ack, at most)",
            f"{ref['all']['rate']:.0f}",
            f"×{ratio(bot['all']['rate'], ref['all']['rate']):.2f}",
            "—",
            INFO,
        )
    )
    paced = r["paced"]
    out.append(
        Row(
            "ack_paced",
            f"Ack at {paced['target_rate']:.0f} requests/s (help/declare/note), p50 / p99",
            f"{ms(paced['p50'])} / {ms(paced['p99'])} (work done "
            f"{paced['landed_after']:.1f} s after the last ack)",
            "—",
            "—",
            "p99 < 100 ms",
            verdict(paced["p99"] < 0.1),
        )
    )
    out.append(
        Row(
            "max_ack",
            f"Max ack over every phase (Web API at {r['config']['latency']:g} s, "
            f"and at {r['slow']['latency']:g} s)",
            f"{ms(r['max_ack'])} (at {r['slow']['latency']:g} s: {ms(r['slow']['max'])})",
            f"{ms(ref['all']['max'])}",
            "—",
            "never over 3 s",
            verdict(r["max_ack"] < 3.0),
        )
    )
    ingest = r["ingest"]
    out.append(
        Row(
            "ingest_rate",
            f"Timeline ingest: {ingest['events']} message events, stored/s",
            f"{ingest['per_second']:.0f}/s ({ingest['seconds']:.2f} s)",
            "—",
            "—",
            "≥ 1,000/s",
            verdict(ingest["per_second"] >= 1000),
        )
    )
    out.append(
        Row(
            "ingest_ack",
            "Ack during ingest, p50 / p99",
            f"{ms(ingest['p50'])} / {ms(ingest['p99'])}",
            "—",
            "—",
            "p99 < 50 ms",
            verdict(ingest["p99"] < 0.05),
        )
    )
    stored = r["stored"]
    lost = sum(v["sent"] - v["stored"] for v in stored.values())
    out.append(
        Row(
            "lost",
            "Stored / sent (every phase): messages, notes, declares",
            ", ".join(f"{v['stored']}/{v['sent']}" for v in stored.values()),
            "—",
            "—",
            "none lost",
            verdict(lost == 0 and ingest["lost"] == 0),
        )
    )
    errors = r["http_errors"]
    out.append(
        Row(
            "http_errors",
            "Requests not answered 200 (bot, every phase)",
            str(errors),
            str(ref["all"]["errors"]),
            "—",
            "0 (sanity)",
            verdict(errors == 0),
        )
    )
    out.append(
        Row(
            "healthz",
            f"GET /healthz right after the {paced['target_rate']:.0f}/s phase",
            ms(r["healthz_after_load"]),
            "—",
            "—",
            "—",
            INFO,
        )
    )
    pm = r["postmortem"]
    out.append(
        Row(
            "postmortem_time",
            f"Postmortem of {pm['rows']:,} timeline rows (`rerender_postmortem`)",
            f"{pm['seconds']:.2f} s (query {pm['query_seconds']:.2f} s, "
            f"render {pm['render_seconds']:.2f} s)",
            "—",
            "—",
            "< 1 s",
            verdict(pm["seconds"] < 1.0),
        )
    )
    out.append(
        Row(
            "postmortem_memory",
            "Postmortem peak memory (tracemalloc)",
            mb(pm["peak_bytes"] / 1024),
            "—",
            "—",
            "< 200 MB",
            verdict(pm["peak_bytes"] < 200 * 1024 * 1024),
        )
    )
    out.append(
        Row(
            "timeline_query",
            "Timeline query plan (SQLite)",
            f"`{pm['query_plan']}`",
            "—",
            "—",
            "indexed (incident_id, at)",
            verdict(pm["uses_index"]),
        )
    )
    startup = r["startup"]
    out.append(
        Row(
            "startup",
            f"Start-up, `python -m bot` to /healthz 200 (median of {len(startup['runs'])} "
            "on an empty database; a restart on a current one)",
            f"{ms(startup['median'])}; restart {ms(startup['restart'])}",
            ms(startup["reference"]),
            "—",
            "< 2 s",
            verdict(max(startup["median"], startup["restart"]) < 2.0),
        )
    )
    rss = r["rss"]
    out.append(
        Row(
            "idle_rss",
            "Idle RSS after start-up (VmRSS, worst run; after a restart)",
            f"{mb(rss['idle_kb'])}; restart {mb(rss['restart_idle_kb'])}",
            mb(rss["reference_idle_kb"]),
            "—",
            "< 100 MB",
            verdict(max(rss["idle_kb"], rss["restart_idle_kb"]) < 100 * 1024),
        )
    )
    out.append(
        Row(
            "peak_rss",
            "Peak RSS after every load phase (VmHWM)",
            mb(rss["peak_kb"]),
            mb(rss["reference_peak_kb"]),
            "—",
            "—",
            INFO,
        )
    )
    return out


def table(all_rows: list[Row]) -> str:
    lines = [
        "| Measure | Bot | Reference | Ratio | Target | Result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in all_rows:
        cells = (row.measure, row.bot, row.reference, row.ratio, row.target, row.result)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def markdown(r: dict[str, Any], all_rows: list[Row]) -> str:
    machine, cfg = r["machine"], r["config"]
    failed = [row.measure for row in all_rows if row.result == FAIL]
    lines = [
        "# Benchmark results",
        "",
        f"- Command: `{r['command']}`",
        f"- Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"{machine['platform']}",
        f"- Date: {r['date']}",
        f"- Set-up: bot and reference {cfg['mode']}, on 127.0.0.1; fake Slack Web API answers "
        f"every call after {cfg['latency']:g} s; load generator: {cfg['client']} client, "
        f"{cfg['requests']} requests per load phase at concurrency {cfg['concurrency']}",
        "",
        table(all_rows),
        "",
        f"**{len(failed)} of {sum(row.result != INFO for row in all_rows)} targets failed**"
        + (": " + "; ".join(failed) if failed else "."),
        "",
        "CPU per phase, in cores (1.0 = one core busy the whole phase): the target's from",
        "/proc/<pid>/stat, and this process's (load generator and fake Slack) from",
        "process_time. A target near 1.0 is CPU-bound: one event loop, one core.",
        "",
        "| Phase | Wall | Target CPU | Generator + fake CPU |",
        "| --- | ---: | ---: | ---: |",
    ]
    for phase in r.get("phases", []):
        lines.append(
            f"| {phase['phase']} | {phase['wall']:.2f} s | {_cores(phase['target_cores'])} "
            f"| {_cores(phase['bench_cores'])} |"
        )
    lines.append("")
    lines += _profiles(r.get("profiles") or {})
    return "\n".join(lines)


def _cores(value: float) -> str:
    return "n/a (in-process)" if math.isnan(value) else f"{value:.2f}"


def _profiles(profiles: dict[str, Any]) -> list[str]:
    from bench.profiling import stacks_markdown

    if not profiles:
        return []
    lines = ["## Profiles (`--profile`)", ""]
    if "load" in profiles:
        lines.append(stacks_markdown(profiles["load"], "Bot under the mixed phase (round 1)"))
    if "ingest" in profiles:
        lines.append(stacks_markdown(profiles["ingest"], "Bot during timeline ingest"))
    if "postmortem" in profiles:
        lines += [
            "#### Postmortem render (pyinstrument, one `rerender_postmortem`)",
            "",
            "```",
            profiles["postmortem"],
            "```",
            "",
        ]
    return lines


def write_results(text: str, path: Path = RESULTS) -> None:
    kept = ""
    if path.exists():
        old = path.read_text()
        if KEEP_MARKER in old:
            kept = old.split(KEEP_MARKER, 1)[1]
    path.write_text(text + "\n" + KEEP_MARKER + (kept or "\n"))
