"""Texts drafted from templates for people to edit: status updates and status-page posts."""

from __future__ import annotations

from collections.abc import Mapping

from bot.severity import Status
from bot.templates import Templates
from storage.models import Incident


class Drafts:
    def __init__(self, templates: Templates, fields: Mapping[str, object]) -> None:
        self.templates = templates
        self.fields = fields

    def _incident(self, incident: Incident) -> dict[str, object]:
        return {
            "id": incident.id,
            "ref": f"INC-{incident.id}",
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "status_label": Status(incident.status).label,
        }

    def status_outage(self, incident: Incident) -> str:
        """The runbook's "during outage" status-page text."""
        return self.templates.render(
            "status_outage.txt.j2", incident=self._incident(incident), **self.fields
        ).strip()

    def status_update(self, incident: Incident) -> str:
        """The status update form's starting text: the outage text with the current status."""
        return self.templates.render(
            "status_update.txt.j2", incident=self._incident(incident), **self.fields
        ).strip()
