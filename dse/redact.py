"""Secrets never reach the screen: one helper renders storage URLs with the password masked,
and one scrubs any text (error lines, resume hints) of URL passwords before it is printed.

Passwords can stay off the command line altogether: `DSE_STORAGE` holds the storage URL
(`dse search/report/studies/export` read it when `--storage` is not given), and the
PostgreSQL drivers (libpq under psycopg 3 and psycopg2) read `PGPASSWORD` and `~/.pgpass`
(`PGPASSFILE`) themselves when the URL has no password (postgresql.org/docs/current/
libpq-pgpass.html).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import sqlalchemy as sa

STORAGE_ENV = "DSE_STORAGE"
MASK = "***"
# `scheme:/user:pw@` too: a URL given where a path goes comes back with `//` made `/`
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][\w+.-]*:/{1,3}[^\s:/@]*:)(?P<pw>[^\s@]*)@")
_KEYWORD_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\"[^\"]*\"|\S+)")


def display_url(url: str) -> str:
    """`url` with its password masked (SQLAlchemy `URL.render_as_string(hide_password=True)`);
    text that is not a URL is scrubbed by `redact`."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return redact(url)


def _env_secrets() -> list[str]:
    out = []
    pw = os.environ.get("PGPASSWORD")
    if pw and len(pw) >= 3:
        out.append(pw)
    env_url = os.environ.get(STORAGE_ENV)
    if env_url:
        try:
            p = sa.engine.make_url(env_url).password
        except Exception:
            p = None
        if p and len(str(p)) >= 3:
            out.append(str(p))
    return out


def redact(text: str) -> str:
    """`text` with every `scheme://user:PASSWORD@` and `password=...` masked, and the
    passwords given through `PGPASSWORD`/`DSE_STORAGE` replaced wherever they appear."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    for secret in _env_secrets():
        text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return text


def storage_default(fallback: str) -> str:
    """The storage URL when `--storage` is not given: `DSE_STORAGE`, else `fallback`."""
    value = os.environ.get(STORAGE_ENV, "").strip()
    return value or fallback


__all__ = ["MASK", "STORAGE_ENV", "display_url", "redact", "storage_default"]
