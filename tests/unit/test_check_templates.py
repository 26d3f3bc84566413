"""Templates with a field that does not exist fail check-templates and start-up, naming the
file and the line; TEMPLATES_DIR overrides the shipped ones."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_startup import BASE, ROOT, run_bot


def test_shipped_templates_check_clean(tmp_path):
    result = run_bot(tmp_path, {}, "check-templates")
    assert result.returncode == 0 and result.stdout.startswith("ok: every template renders")


def test_undefined_field_is_reported_with_file_and_line(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "summary.slack.j2").write_text("line one\n{{ incident.nonexistent_field }}\n")
    result = run_bot(tmp_path, {}, "check-templates", str(folder))
    assert result.returncode == 1
    assert f"template {folder / 'summary.slack.j2'}:2:" in result.stdout
    assert "nonexistent_field" in result.stdout

    started = run_bot(tmp_path, {**BASE, "TEMPLATES_DIR": str(folder)})
    assert started.returncode == 2 and "Traceback" not in started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert "summary.slack.j2:2" in last and "check-templates" in last


def test_syntax_error_is_reported_with_its_line(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "digest.slack.j2").write_text("ok\nok\n{% for x in %}\n")
    result = run_bot(tmp_path, {}, "check-templates", str(folder))
    assert result.returncode == 1 and "digest.slack.j2:3" in result.stdout


def test_root_is_the_project():
    assert (Path(ROOT) / "templates" / "postmortem.md.j2").exists()
