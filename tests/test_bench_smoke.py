"""The benchmark's quick mode runs end to end, so the script keeps working (issue 7: CI runs a
small smoke version; the full run is by hand). No timing assertions: every row is reported,
the counts add up and nothing is lost."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.report import ROW_KEYS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ("PASS", "FAIL", "—")


def _sane(summary: dict, count: int) -> None:
    assert summary["count"] == count
    assert summary["errors"] == 0
    assert 0 < summary["p50"] <= summary["p99"] <= summary["max"] < math.inf


def test_quick_benchmark_reports_every_row_and_loses_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--rounds", "2", "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang, not a timing assertion
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(raw.read_text())

    rows = {row["key"]: row for row in data["rows"]}
    assert set(rows) == set(ROW_KEYS)
    for row in rows.values():
        assert f"| {row['measure']} |" in done.stdout, row["measure"]
        assert row["result"] in RESULTS

    requests = data["config"]["requests"]
    assert len(data["rounds"]) == 2
    for each in data["rounds"]:
        _sane(each["reference"]["all"], requests)
        _sane(each["bot"]["all"], requests)
        assert each["landed_after"] >= 0
    _sane(data["reference"]["all"], 2 * requests)
    _sane(data["bot"]["all"], 2 * requests)
    for kind in ("help", "declare", "note", "message"):
        _sane(data["bot"][kind], 2 * requests // 4)
    _sane(data["paced"], data["config"]["paced"])
    _sane(data["slow"], data["config"]["slow"])
    assert data["http_errors"] == 0

    ingest = data["ingest"]
    _sane(ingest, data["config"]["ingest"])
    assert ingest["stored"] == ingest["events"] and ingest["lost"] == 0
    assert ingest["per_second"] > 0
    for kind, counts in data["stored"].items():
        assert counts["stored"] == counts["sent"] > 0, kind

    postmortem = data["postmortem"]
    assert postmortem["rows"] == data["config"]["timeline_rows"]
    assert postmortem["timeline_rows_in_document"] == postmortem["visible_rows"] > 0
    assert postmortem["seconds"] > 0 and postmortem["peak_bytes"] > 0
    assert postmortem["uses_index"], postmortem["query_plan"]

    assert all(0 < s < math.inf for s in data["startup"]["runs"])
    assert 0 < data["startup"]["restart"] < math.inf
    assert data["rss"]["restart_idle_kb"] > 0
    rss = data["rss"]
    assert rss["idle_kb"] > 0 and rss["peak_kb"] >= min(rss["idle_runs_kb"])
