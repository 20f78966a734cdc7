"""Where a PostgreSQL store or shared state points: its server, described for messages
without the password, and its schema, whose name is checked (it goes into SQL as an
identifier)."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict

from plait.core import scrub

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def describe_target(url: str) -> str:
    """``host:port (user …, database …)`` from a connection URL, without its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "the server in the store URL"
    host = info.get("host") or info.get("hostaddr") or "localhost (socket)"
    return scrub(
        f"{host}:{info.get('port') or 5432} (user {info.get('user') or '<default>'!r}, "
        f"database {info.get('dbname') or '<default>'!r})",
        url,
    )
