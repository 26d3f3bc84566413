"""Runbooks as data: the shipped YAML, the loader's error reports, substitution and redaction."""

import io
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

# No conftest or installed package to rely on: make the repo root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.runbooks import (
    DEFAULT_RUNBOOK_DIR,
    HttpStep,
    MissingSetting,
    RunbookError,
    RunbookLoadError,
    RunbookSet,
    StatuspageStep,
    check_runbooks,
    load_runbooks,
    placeholders,
    redact,
    substitute,
    substitute_obj,
)

SHIPPED_IDS = [
    "ai-generation-down",
    "data-breach",
    "database-connections",
    "database-disk",
    "high-error-rate",
    "key-rotation",
    "payment-failures",
    "site-down",
]
SETTINGS = {"SERVICE_URL", "ADMIN_SESSION_COOKIE", "CRON_SECRET", "ANTHROPIC_API_KEY"}


@pytest.fixture(scope="module")
def shipped() -> RunbookSet:
    return load_runbooks(DEFAULT_RUNBOOK_DIR)


# --- the shipped runbooks -------------------------------------------------------------------


def test_shipped_folder_loads_exactly_the_eight_runbooks(shipped: RunbookSet) -> None:
    assert DEFAULT_RUNBOOK_DIR.name == "runbooks"
    assert shipped.ids() == SHIPPED_IDS
    assert [runbook.id for runbook in shipped] == SHIPPED_IDS
    assert len(shipped) == 8
    assert sorted(p.name for p in DEFAULT_RUNBOOK_DIR.glob("*.y*ml")) == [
        f"{i}.yaml" for i in SHIPPED_IDS
    ]


@pytest.mark.parametrize(
    ("runbook_id", "severity"),
    [
        ("site-down", "P1"),
        ("data-breach", "P1"),
        ("high-error-rate", "P2"),
        ("payment-failures", "P2"),
        ("ai-generation-down", "P2"),
        ("database-connections", "P2"),
        ("database-disk", "P3"),
        ("key-rotation", "P3"),
    ],
)
def test_default_severity(shipped: RunbookSet, runbook_id: str, severity: str) -> None:
    assert shipped[runbook_id].default_severity == severity


def test_only_data_breach_is_private_and_starts_the_gdpr_clock(shipped: RunbookSet) -> None:
    assert [r.id for r in shipped if r.private] == ["data-breach"]
    assert [r.id for r in shipped if r.starts_gdpr_clock] == ["data-breach"]


# (runbook, phase, step id, label, method, url) for every button the rest of the bot relies on.
CONTRACT = [
    ("site-down", "diagnosis", "check-health", "Check health", "GET", "${SERVICE_URL}/api/health"),
    (
        "site-down",
        "mitigation",
        "maintenance-on",
        "Enable maintenance mode",
        "POST",
        "${SERVICE_URL}/api/admin/maintenance",
    ),
    (
        "site-down",
        "mitigation",
        "maintenance-off",
        "Disable maintenance mode",
        "DELETE",
        "${SERVICE_URL}/api/admin/maintenance",
    ),
    (
        "high-error-rate",
        "diagnosis",
        "check-health",
        "Check health",
        "GET",
        "${SERVICE_URL}/api/health",
    ),
    (
        "high-error-rate",
        "mitigation",
        "maintenance-on",
        "Enable maintenance mode",
        "POST",
        "${SERVICE_URL}/api/admin/maintenance",
    ),
    (
        "database-disk",
        "diagnosis",
        "check-health",
        "Check health",
        "GET",
        "${SERVICE_URL}/api/health",
    ),
    (
        "database-disk",
        "diagnosis",
        "run-db-health",
        "Run db-health",
        "GET",
        "${SERVICE_URL}/api/cron/db-health",
    ),
    (
        "database-disk",
        "mitigation",
        "run-cleanup-previews",
        "Run cleanup-previews",
        "GET",
        "${SERVICE_URL}/api/cron/cleanup-previews",
    ),
    (
        "database-connections",
        "diagnosis",
        "check-health",
        "Check health",
        "GET",
        "${SERVICE_URL}/api/health",
    ),
    (
        "data-breach",
        "mitigation",
        "force-logout-dry-run",
        "Force logout (dry run)",
        "GET",
        "${SERVICE_URL}/api/admin/sessions/revoke-all",
    ),
    (
        "data-breach",
        "mitigation",
        "force-logout",
        "Force logout",
        "POST",
        "${SERVICE_URL}/api/admin/sessions/revoke-all",
    ),
    (
        "data-breach",
        "mitigation",
        "maintenance-on",
        "Enable maintenance mode",
        "POST",
        "${SERVICE_URL}/api/admin/maintenance",
    ),
    (
        "payment-failures",
        "diagnosis",
        "check-health",
        "Check health",
        "GET",
        "${SERVICE_URL}/api/health",
    ),
    (
        "payment-failures",
        "mitigation",
        "run-webhook-retries",
        "Run webhook-retries",
        "GET",
        "${SERVICE_URL}/api/cron/webhook-retries",
    ),
    (
        "ai-generation-down",
        "diagnosis",
        "anthropic-ping",
        "Test Anthropic API",
        "POST",
        "${ANTHROPIC_API_URL:-https://api.anthropic.com}/v1/messages",
    ),
    (
        "ai-generation-down",
        "mitigation",
        "maintenance-on",
        "Enable maintenance mode",
        "POST",
        "${SERVICE_URL}/api/admin/maintenance",
    ),
]


@pytest.mark.parametrize(("runbook_id", "phase", "step_id", "label", "method", "url"), CONTRACT)
def test_contract_buttons(
    shipped: RunbookSet,
    runbook_id: str,
    phase: str,
    step_id: str,
    label: str,
    method: str,
    url: str,
) -> None:
    found = [(p, s) for p, s in shipped[runbook_id].steps() if s.id == step_id]
    assert len(found) == 1
    step_phase, step = found[0]
    assert step_phase == phase
    assert isinstance(step, HttpStep)
    assert (step.label, step.method, step.url) == (label, method, url)


def test_same_step_id_means_the_same_action_in_every_runbook(shipped: RunbookSet) -> None:
    by_id: dict[str, HttpStep] = {}
    for runbook in shipped:
        for _, step in runbook.steps():
            if isinstance(step, HttpStep):
                first = by_id.setdefault(step.id, step)
                # help text may differ per runbook; the request may not
                assert step.model_dump(exclude={"help"}) == first.model_dump(exclude={"help"})


def test_approval_required_exactly_on_maintenance_on_and_force_logout(
    shipped: RunbookSet,
) -> None:
    approved = {
        step.id
        for runbook in shipped
        for _, step in runbook.steps()
        if isinstance(step, HttpStep) and step.approval == "required"
    }
    assert approved == {"maintenance-on", "force-logout"}


def test_http_steps_need_only_known_settings(shipped: RunbookSet) -> None:
    needed = set()
    for runbook in shipped:
        for _, step in runbook.steps():
            if isinstance(step, HttpStep):
                needed |= placeholders(step.model_dump(), required_only=True)
    assert needed == SETTINGS


def test_health_check_shows_the_runbook_fields(shipped: RunbookSet) -> None:
    step = shipped["site-down"].step("check-health")
    assert isinstance(step, HttpStep)
    assert {
        "status",
        "database.status",
        "database.diskStatus",
        "checks.slowQueries.sinceLastRestart",
    } <= set(step.show_fields)


def test_maintenance_on_request(shipped: RunbookSet) -> None:
    step = shipped["site-down"].step("maintenance-on")
    assert isinstance(step, HttpStep)
    assert step.headers == {
        "Cookie": "${ADMIN_SESSION_COOKIE}",
        "Content-Type": "application/json",
    }
    assert step.json_body == {"message": "${input.message}"}
    (message,) = step.inputs
    assert (message.name, message.type, message.template) == (
        "message",
        "multiline",
        "status_outage",
    )
    assert message.default == "We are experiencing an outage and working to restore service."
    off = shipped["site-down"].step("maintenance-off")
    assert isinstance(off, HttpStep)
    assert off.headers == {"Cookie": "${ADMIN_SESSION_COOKIE}"}
    assert off.json_body is None


def test_force_logout_requests(shipped: RunbookSet) -> None:
    breach = shipped["data-breach"]
    dry = breach.step("force-logout-dry-run")
    assert isinstance(dry, HttpStep)
    assert dry.query == {"exceptAdmins": "true"}
    assert dry.approval == "none"
    assert {"wouldRevoke", "count"} <= set(dry.show_fields)
    real = breach.step("force-logout")
    assert isinstance(real, HttpStep)
    defaults = {i.name: i.default for i in real.inputs}
    assert defaults == {
        "reason": "Data breach response — forced re-authentication",
        "exceptAdmins": False,
    }
    body = substitute_obj(real.json_body, {}, defaults)
    assert body == {
        "reason": "Data breach response — forced re-authentication",
        "exceptAdmins": False,
    }


def test_anthropic_ping_sends_the_seed_body(shipped: RunbookSet) -> None:
    step = shipped["ai-generation-down"].step("anthropic-ping")
    assert isinstance(step, HttpStep)
    assert step.headers == {
        "x-api-key": "${ANTHROPIC_API_KEY}",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    assert step.json_body == {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize(
    ("runbook_id", "step_id"),
    [
        ("database-disk", "run-cleanup-previews"),
        ("database-disk", "run-db-health"),
        ("payment-failures", "run-webhook-retries"),
    ],
)
def test_cron_steps_send_the_cron_secret(
    shipped: RunbookSet, runbook_id: str, step_id: str
) -> None:
    step = shipped[runbook_id].step(step_id)
    assert isinstance(step, HttpStep)
    assert step.headers == {"Authorization": "Bearer ${CRON_SECRET}"}
    assert substitute(step.headers["Authorization"], {"CRON_SECRET": "s3"}) == "Bearer s3"


@pytest.mark.parametrize(
    ("runbook_id", "service", "setting", "default"),
    [
        ("site-down", "Vercel", "STATUS_VERCEL_URL", "https://www.vercel-status.com"),
        ("site-down", "Supabase", "STATUS_SUPABASE_URL", "https://status.supabase.com"),
        ("site-down", "Upstash", "STATUS_UPSTASH_URL", "https://status.upstash.com"),
        ("payment-failures", "Stripe", "STATUS_STRIPE_URL", "https://status.stripe.com"),
        ("ai-generation-down", "Anthropic", "STATUS_ANTHROPIC_URL", "https://status.anthropic.com"),
    ],
)
def test_status_pages(
    shipped: RunbookSet, runbook_id: str, service: str, setting: str, default: str
) -> None:
    pages = [s for _, s in shipped[runbook_id].steps() if isinstance(s, StatuspageStep)]
    (page,) = [p for p in pages if p.service == service]
    assert page.label == f"{service} status"
    assert page.url == f"${{{setting}:-{default}}}/api/v2/status.json"
    assert substitute(page.url, {}) == f"{default}/api/v2/status.json"
    fake = "http://127.0.0.1:9999"
    assert substitute(page.url, {setting: fake}) == f"{fake}/api/v2/status.json"


def test_manual_steps_and_snippets(shipped: RunbookSet) -> None:
    def kinds(runbook_id: str) -> dict[str, str]:
        return {s.id: s.kind for _, s in shipped[runbook_id].steps()}

    breach = kinds("data-breach")
    for key in (
        "nextauth-secret",
        "database-password",
        "anthropic-key",
        "stripe-keys",
        "upstash-token",
        "resend-key",
    ):
        assert breach[f"rotate-{key}"] == "check"
        assert kinds("key-rotation")[f"rotate-{key}"] == "check"
    assert breach["export-audit-logs"] == breach["notify-users"] == "check"
    assert kinds("site-down")["rollback-deployment"] == "check"
    assert kinds("high-error-rate")["rollback-deployment"] == "check"
    snippets = {
        (r.id, s.language, s.code.strip().splitlines()[-1])
        for r in shipped
        for _, s in r.steps()
        if s.kind == "snippet"
    }
    assert snippets == {
        (
            "database-disk",
            "sql",
            """DELETE FROM "Project" WHERE "deletedAt" < NOW() - INTERVAL '30 days';""",
        ),
        ("payment-failures", "sql", "WHERE email = 'user@example.com';"),
        ("key-rotation", "bash", "vercel deploy --prod"),
    }


def test_steps_iterate_in_phase_order_and_step_lookup(shipped: RunbookSet) -> None:
    site = shipped["site-down"]
    phases = [phase for phase, _ in site.steps()]
    assert phases == sorted(phases, key=["diagnosis", "mitigation", "post_incident"].index)
    assert phases[0] == "diagnosis" and phases[-1] == "post_incident"
    assert site.step("maintenance-off") is not None
    assert site.step("no-such-step") is None
    assert shipped.get("nope") is None
    assert "site-down" in shipped and "nope" not in shipped


# --- suggest() ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Site is down, 503 everywhere", "site-down"),
        ("Stripe webhooks failing", "payment-failures"),
        ("DATABASE DISK almost FULL!!", "database-disk"),
        ("Suspected data breach: unauthorized access", "data-breach"),
        ("AI generation stuck, blank previews", "ai-generation-down"),
        ("nothing matches", None),
        ("", None),
    ],
)
def test_suggest(shipped: RunbookSet, title: str, expected: str | None) -> None:
    found = shipped.suggest(title)
    assert (found.id if found else None) == expected


def test_suggest_breaks_ties_by_id_order(shipped: RunbookSet) -> None:
    # "database" is a keyword of both database runbooks; the first id wins.
    found = shipped.suggest("database")
    assert found is not None and found.id == "database-connections"


# --- loader error reports -----------------------------------------------------------------


def minimal(runbook_id: str = "demo") -> dict[str, Any]:
    return {
        "id": runbook_id,
        "title": "Demo",
        "symptoms": "Things break.",
        "default_severity": "P3",
        "keywords": ["demo"],
        "phases": {
            "diagnosis": [{"id": "look", "kind": "check", "label": "Look around"}],
            "mitigation": [
                {
                    "id": "poke",
                    "kind": "http",
                    "label": "Poke",
                    "method": "POST",
                    "url": "${SERVICE_URL}/poke",
                    "json_body": {"why": "${input.why}"},
                    "inputs": [{"name": "why", "label": "Why"}],
                }
            ],
        },
    }


def write(directory: Path, name: str, data: Any) -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def errors_for(directory: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(RunbookLoadError) as caught:
        load_runbooks(directory)
    return [(Path(e.file).name, e.field, e.message) for e in caught.value.errors]


def test_minimal_runbook_loads(tmp_path: Path) -> None:
    write(tmp_path, "demo.yaml", minimal())
    assert load_runbooks(tmp_path).ids() == ["demo"]


def test_yaml_syntax_error_reports_the_line(tmp_path: Path) -> None:
    write(tmp_path, "demo.yaml", "id: demo\ntitle: a: b\nsymptoms: x\n")
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "line 2")
    assert "mapping values are not allowed" in message


def test_unclosed_bracket_names_where_it_was_opened(tmp_path: Path) -> None:
    write(tmp_path, "demo.yaml", "id: demo\nkeywords: [a, b\nsymptoms: x\n")
    ((_, field, message),) = errors_for(tmp_path)
    assert field == "line 3"
    assert "opened on line 2" in message


def test_yaml_duplicate_key_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "demo.yaml", "id: demo\nid: other\n")
    assert errors_for(tmp_path) == [("demo.yaml", "line 2", "duplicate key 'id'")]


def test_unknown_field(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["mitigation"][0]["timeout"] = 5
    write(tmp_path, "demo.yaml", data)
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "phases.mitigation.0.timeout")
    assert "not permitted" in message


def test_wrong_kind(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["diagnosis"][0]["kind"] = "shell"
    write(tmp_path, "demo.yaml", data)
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "phases.diagnosis.0.kind")
    assert "'shell'" in message


def test_wrong_field_inside_a_step_has_no_kind_tag_in_the_path(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["mitigation"][0]["url"] = "http://insecure.example"
    write(tmp_path, "demo.yaml", data)
    ((_, field, message),) = errors_for(tmp_path)
    assert field == "phases.mitigation.0.url"
    assert "https://" in message


def test_duplicate_step_id_across_phases(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["post_incident"] = [{"id": "look", "kind": "check", "label": "Again"}]
    write(tmp_path, "demo.yaml", data)
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "phases.post_incident.0.id")
    assert "'look'" in message and "diagnosis.0" in message


def test_undeclared_input_placeholder(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["mitigation"][0]["json_body"]["who"] = "${input.who}"
    write(tmp_path, "demo.yaml", data)
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "phases.mitigation.0.json_body.who")
    assert "${input.who}" in message


def test_unused_input(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["mitigation"][0]["inputs"].append({"name": "extra", "label": "Extra"})
    write(tmp_path, "demo.yaml", data)
    ((_, field, _),) = errors_for(tmp_path)
    assert field == "phases.mitigation.0.inputs.1.name"


def test_boolean_input_needs_a_boolean_default(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["mitigation"][0]["inputs"][0].update(type="boolean", default="no")
    write(tmp_path, "demo.yaml", data)
    ((_, field, message),) = errors_for(tmp_path)
    assert field == "phases.mitigation.0.inputs.0.default"
    assert "boolean" in message


def test_too_long_label(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["diagnosis"][0]["label"] = "x" * 76
    write(tmp_path, "demo.yaml", data)
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yaml", "phases.diagnosis.0.label")
    assert "75" in message


def test_label_of_exactly_75_characters_is_fine(tmp_path: Path) -> None:
    data = minimal()
    data["phases"]["diagnosis"][0]["label"] = "x" * 75
    write(tmp_path, "demo.yaml", data)
    assert load_runbooks(tmp_path).ids() == ["demo"]


def test_all_errors_in_all_files_are_collected(tmp_path: Path) -> None:
    first = minimal("aaa")
    first["default_severity"] = "P9"
    first["keywords"] = ["Upper"]
    write(tmp_path, "aaa.yaml", first)
    write(tmp_path, "bbb.yml", minimal("not-bbb"))
    write(tmp_path, "ccc.yaml", minimal("ccc"))
    fields = [(file, field) for file, field, _ in errors_for(tmp_path)]
    assert fields == [
        ("aaa.yaml", "default_severity"),
        ("aaa.yaml", "keywords"),
        ("bbb.yml", "id"),
    ]


def test_duplicate_runbook_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "demo.yaml", minimal())
    write(tmp_path, "demo.yml", minimal())
    ((file, field, message),) = errors_for(tmp_path)
    assert (file, field) == ("demo.yml", "id")
    assert "duplicate" in message and "demo.yaml" in message


@pytest.mark.parametrize("content", ["", "- just\n- a list\n"])
def test_file_that_is_not_a_mapping(tmp_path: Path, content: str) -> None:
    write(tmp_path, "demo.yaml", content)
    ((_, field, message),) = errors_for(tmp_path)
    assert field == "(root)"
    assert "expected a mapping" in message


def test_empty_and_missing_directories_are_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a runbook")
    ((file, _, message),) = errors_for(tmp_path)
    assert file == tmp_path.name and "no runbook files found" in message
    ((_, _, message),) = errors_for(tmp_path / "missing")
    assert "no runbook files found" in message


def test_runbook_error_is_one_line() -> None:
    error = RunbookError("a.yaml", "phases.mitigation.2.url", "bad\nthing")
    assert str(error) == "a.yaml: phases.mitigation.2.url: bad thing"
    assert str(RunbookLoadError([error, error])).count("\n") == 1


def test_check_runbooks_ok(shipped: RunbookSet) -> None:
    out = io.StringIO()
    assert check_runbooks(DEFAULT_RUNBOOK_DIR, out) == 0
    assert out.getvalue() == f"ok: 8 runbooks ({', '.join(SHIPPED_IDS)})\n"


def test_check_runbooks_reports_each_error(tmp_path: Path) -> None:
    data = minimal()
    data["title"] = "t" * 151
    data["phases"]["diagnosis"][0]["label"] = ""
    write(tmp_path, "demo.yaml", data)
    out = io.StringIO()
    assert check_runbooks(tmp_path, out) == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'demo.yaml'}: title: ")
    assert lines[1].startswith(f"{tmp_path / 'demo.yaml'}: phases.diagnosis.0.label: ")


# --- substitution -------------------------------------------------------------------------


def test_substitute_values_and_defaults() -> None:
    values = {"SERVICE_URL": "https://svc.test", "EMPTY": "", "NONE": None}
    assert substitute("${SERVICE_URL}/api/health", values) == "https://svc.test/api/health"
    assert substitute("${MISSING:-https://d.test}/x", values) == "https://d.test/x"
    assert substitute("${EMPTY:-fallback}", values) == "fallback"
    assert substitute("${NONE:-fallback}", values) == "fallback"
    assert substitute("${SERVICE_URL:-unused}", values) == "https://svc.test"
    assert substitute("a${MISSING:-}b", values) == "ab"
    assert substitute("no placeholders, $HOME {x}", values) == "no placeholders, $HOME {x}"


@pytest.mark.parametrize("values", [{}, {"CRON_SECRET": ""}, {"CRON_SECRET": None}])
def test_substitute_missing_setting(values: dict[str, str | None]) -> None:
    with pytest.raises(MissingSetting) as caught:
        substitute("Bearer ${CRON_SECRET}", values)
    assert isinstance(caught.value, ValueError)
    assert caught.value.name == "CRON_SECRET"
    assert str(caught.value) == "CRON_SECRET is not set"


def test_substitute_inputs() -> None:
    inputs = {"reason": "breach", "flag": True, "n": 3, "blank": None}
    assert substitute("why: ${input.reason}", {}, inputs) == "why: breach"
    assert substitute("?x=${input.flag}", {}, inputs) == "?x=true"
    assert substitute("${input.n}", {}, inputs) == "3"
    assert substitute("[${input.blank}]", {}, inputs) == "[]"
    assert substitute("${input.gone:-dflt}", {}, inputs) == "dflt"
    with pytest.raises(MissingSetting, match="input.gone is not set"):
        substitute("${input.gone}", {}, inputs)
    with pytest.raises(MissingSetting):
        substitute("${input.reason}", {}, None)


def test_substitute_obj_passes_bools_and_numbers_through() -> None:
    body = {
        "reason": "${input.reason}",
        "exceptAdmins": "${input.exceptAdmins}",
        "limit": "${input.limit}",
        "text": "admins=${input.exceptAdmins}",
        "nested": [{"url": "${SERVICE_URL}/x"}, 7, None],
    }
    inputs = {"reason": "r", "exceptAdmins": False, "limit": 5}
    assert substitute_obj(body, {"SERVICE_URL": "https://s.test"}, inputs) == {
        "reason": "r",
        "exceptAdmins": False,
        "limit": 5,
        "text": "admins=false",
        "nested": [{"url": "https://s.test/x"}, 7, None],
    }


def test_placeholders() -> None:
    obj = {
        "url": "${SERVICE_URL}/x?${STATUS:-https://d}",
        "headers": {"Cookie": "${ADMIN_SESSION_COOKIE}"},
        "body": ["${input.reason}", 3],
    }
    assert placeholders(obj) == {"SERVICE_URL", "STATUS", "ADMIN_SESSION_COOKIE", "input.reason"}
    assert placeholders(obj, required_only=True) == {"SERVICE_URL", "ADMIN_SESSION_COOKIE"}
    assert placeholders("plain") == set()


# --- redaction ----------------------------------------------------------------------------


def test_redact_plain_and_url_encoded() -> None:
    secret = "s3cr=t/+&key"
    text = f"Bearer {secret} and ?token={quote(secret, safe='')}"
    assert redact(text, [secret]) == "Bearer [redacted] and ?token=[redacted]"


def test_redact_longest_first_short_and_empty_secrets() -> None:
    assert redact("abcdef", ["abc", "abcdef"]) == "[redacted]"
    assert redact("pin 42 ok", ["42"]) == "pin [redacted] ok"
    assert redact("nothing to hide", ["", None]) == "nothing to hide"  # type: ignore[list-item]
    assert redact("untouched", []) == "untouched"


_secret_chars = st.characters(blacklist_characters="[]", blacklist_categories=("Cs",))


@given(
    before=st.text(),
    secret=st.text(alphabet=_secret_chars, min_size=1, max_size=40),
    after=st.text(),
    others=st.lists(st.text(max_size=10), max_size=3),
)
def test_redacted_text_never_contains_the_secret(
    before: str, secret: str, after: str, others: list[str]
) -> None:
    # A secret that is part of the marker itself ("red") cannot be hidden by the marker.
    assume(secret not in "[redacted]")
    for encoded in (secret, quote(secret, safe="")):
        result = redact(before + encoded + after + secret, [*others, secret])
        assert secret not in result
        assert quote(secret, safe="") not in result
