"""Runbook data model: what a runbook YAML file may say, checked before the bot runs any of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.runbooks.substitute import input_references

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,40}$"
PHASE_NAMES: tuple[str, ...] = ("diagnosis", "mitigation", "post_incident")
STEP_KINDS: tuple[str, ...] = ("http", "statuspage", "check", "link", "snippet")

Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
# 75 characters is Slack's limit for button text.
Label = Annotated[str, Field(min_length=1, max_length=75)]

# A URL the bot requests must be absolute https or start with a ${SETTING} that supplies the base.
_URL_START = re.compile(r"^(https://|\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\})")
_FIELD_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_KEYWORD = re.compile(r"^[a-z0-9]+$")
STATUSPAGE_SUFFIX = "/api/v2/status.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _located(error_type: str, message: str, at: str) -> PydanticCustomError:
    # Model-level validators can't set a field location; the loader appends ctx["at"] to it.
    return PydanticCustomError(error_type, message, {"at": at})


def _check_url_start(url: str) -> str:
    if not _URL_START.match(url):
        raise ValueError("must start with https:// or a ${SETTING} placeholder")
    return url


class StepInput(_Model):
    """A value asked for in a modal before the request; fills `${input.<name>}`."""

    name: str
    label: Label
    type: Literal["text", "multiline", "boolean"] = "text"
    # Typed loosely so a wrong type gives one clear error instead of one per union member.
    default: Any = None
    template: str | None = None
    required: bool = True

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _INPUT_NAME.match(value):
            raise ValueError("must be an identifier, dotted parts allowed (e.g. reason, a.b)")
        return value

    @model_validator(mode="after")
    def _default_matches_type(self) -> StepInput:
        if self.type == "boolean":
            if self.default is not None and not isinstance(self.default, bool):
                raise _located(
                    "input_default", "default of a boolean input must be true or false", "default"
                )
            if self.template is not None:
                raise _located(
                    "input_template",
                    "a boolean input cannot be prefilled from a template",
                    "template",
                )
        elif self.default is not None and not isinstance(self.default, str):
            raise _located("input_default", "default of a text input must be a string", "default")
        return self


class _StepBase(_Model):
    id: Slug
    label: Label
    help: str | None = Field(default=None, max_length=300)


class HttpStep(_StepBase):
    """A request the bot makes to the target service (or a provider) when the button is pressed."""

    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    json_body: dict[str, Any] | None = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default=[200], min_length=1)
    show_fields: list[str] = []
    approval: Literal["none", "required"] = "none"
    inputs: list[StepInput] = []

    @field_validator("url")
    @classmethod
    def _url_start(cls, value: str) -> str:
        return _check_url_start(value)

    @field_validator("show_fields")
    @classmethod
    def _dotted_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not _FIELD_PATH.match(path):
                raise ValueError(f"{path!r} is not a dotted path like database.status")
        return value

    @model_validator(mode="after")
    def _inputs_match_placeholders(self) -> HttpStep:
        declared: dict[str, int] = {}
        for index, item in enumerate(self.inputs):
            if item.name in declared:
                raise _located(
                    "duplicate_input",
                    f"input {item.name!r} is declared twice",
                    f"inputs.{index}.name",
                )
            declared[item.name] = index
        used: set[str] = set()
        for field in ("url", "headers", "query", "json_body"):
            for path, name in input_references(getattr(self, field), field):
                if name not in declared:
                    raise _located(
                        "undeclared_input",
                        f"${{input.{name}}} does not name an input of this step",
                        path,
                    )
                used.add(name)
        for name, index in declared.items():
            if name not in used:
                # An unused input is a modal question whose answer goes nowhere.
                raise _located(
                    "unused_input",
                    f"input {name!r} is never used as ${{input.{name}}}",
                    f"inputs.{index}.name",
                )
        return self

    @property
    def needs_approval(self) -> bool:
        return self.approval == "required"


class StatuspageStep(_StepBase):
    """A provider's public Statuspage v2 summary, fetched and shown."""

    kind: Literal["statuspage"]
    url: str
    service: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _statuspage_url(cls, value: str) -> str:
        _check_url_start(value)
        if not value.endswith(STATUSPAGE_SUFFIX):
            raise ValueError(f"must end with {STATUSPAGE_SUFFIX}")
        return value


class CheckStep(_StepBase):
    """A manual checklist item someone ticks off."""

    kind: Literal["check"]


class LinkStep(_StepBase):
    """A dashboard to open; the bot never fetches it."""

    kind: Literal["link"]
    url: str = Field(pattern=r"^https://\S+$")


class SnippetStep(_StepBase):
    """Code shown for copying; the bot never runs it."""

    kind: Literal["snippet"]
    language: Literal["sql", "bash", "text"]
    code: str = Field(min_length=1)


Step = Annotated[
    HttpStep | StatuspageStep | CheckStep | LinkStep | SnippetStep,
    Field(discriminator="kind"),
]


class Phases(_Model):
    diagnosis: list[Step] = []
    mitigation: list[Step] = []
    post_incident: list[Step] = []

    @model_validator(mode="after")
    def _unique_step_ids(self) -> Phases:
        # Ids are unique across phases because button actions address a step by id alone.
        seen: dict[str, str] = {}
        for phase in PHASE_NAMES:
            for index, step in enumerate(getattr(self, phase)):
                where = f"{phase}.{index}"
                if step.id in seen:
                    raise _located(
                        "duplicate_step_id",
                        f"duplicate step id {step.id!r} (first used at {seen[step.id]})",
                        f"{where}.id",
                    )
                seen[step.id] = where
        return self


class Runbook(_Model):
    id: Slug
    title: str = Field(min_length=1, max_length=150)
    symptoms: str = Field(min_length=1)
    default_severity: Literal["P1", "P2", "P3", "P4"]
    keywords: list[str] = Field(min_length=1)
    phases: Phases
    starts_gdpr_clock: bool = False
    private: bool = False

    @field_validator("keywords")
    @classmethod
    def _lowercase_words(cls, value: list[str]) -> list[str]:
        for word in value:
            # suggest() splits titles on anything but [a-z0-9], so other keywords never match.
            if not _KEYWORD.match(word):
                raise ValueError(f"{word!r} must be one lowercase word (a-z, 0-9)")
        return value

    def steps(self) -> Iterator[tuple[str, Step]]:
        """(phase name, step) for every step, phases in runbook order."""
        for phase in PHASE_NAMES:
            for step in getattr(self.phases, phase):
                yield phase, step

    def step(self, step_id: str) -> Step | None:
        return next((step for _, step in self.steps() if step.id == step_id), None)
