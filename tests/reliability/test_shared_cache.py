"""The accuracy cache shared by workers: racing processes may evaluate a key twice, but
every one of them reads back the same, first-stored value (real PostgreSQL, fresh
database, so the table creation races too)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa
from reliability_helpers import env

SCRIPT = """
import sys, time
from dse.nn.cache import AccuracyCache
url, value, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
cache = AccuracyCache(url)
before = cache.get("k")
stored = cache.put("k", value, "w", 0.1)
print(before, stored, cache.get("k"))
cache.close()
"""


@pytest.mark.slow
def test_racing_workers_read_one_value(postgres_url: str) -> None:
    u = sa.engine.make_url(postgres_url)
    db = f"relcache_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"create database {db}")
    url = u.set(database=db).render_as_string(hide_password=False)
    try:
        start = time.time() + 2.0  # all import first, then create the table and put at once
        values = [0.5 + i / 100 for i in range(6)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", SCRIPT, url, str(v), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env(),
            )
            for v in values
        ]
        rows = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            rows.append(out.split())
        stored = {r[1] for r in rows} | {r[2] for r in rows}
        assert len(stored) == 1, rows  # one value for everyone
        assert float(stored.pop()) in values  # and it is one that was really evaluated
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"drop database {db} with (force)")
        admin.dispose()
