"""A fresh PostgreSQL database per test, on the server TEST_DATABASE_URL names.

`.ci/run` starts a throwaway server and sets TEST_DATABASE_URL. Without it the PostgreSQL
variants skip locally with the reason, and fail in CI (CI=true), where they must run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ENV = "TEST_DATABASE_URL"


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        message = (
            f"PostgreSQL tests need a server: set {ENV}=postgresql://user@host:port/db "
            "(`source .ci/postgres` starts a throwaway one)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def _plain(url: str) -> str:
    """asyncpg speaks libpq URLs: no SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(server: str | None = None) -> AsyncIterator[str]:
    """Create an empty database on `server` (default: TEST_DATABASE_URL's), yield its URL,
    and drop it (with any connection left) after."""
    server = server or server_url()
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_plain(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_plain(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
