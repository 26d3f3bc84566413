"""Incident-response ChatOps bot: the domain (incidents, runbooks, clocks, templates)."""
