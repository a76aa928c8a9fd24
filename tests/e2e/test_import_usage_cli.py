"""`kuota import-usage FILE`: the command as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from kuota.cards.models import Card
from kuota.core.config import Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.usage import service as usage
from kuota.usage.models import Package

CARD = "+6281100000001"


def run_import(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kuota", "import-usage", *args],
        env={**os.environ, "KUOTA_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_charges_once_and_names_bad_rows(
    demo_db: Database, ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    with demo_db.unit_of_work() as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == CARD)).scalar_one()
        usage.add_purchase(
            s,
            card_id=card_id,
            plan_code="DATA-1GB-7D",
            plan_version_id=1,
            data_bytes=10**9,
            validity_days=7,
            now=ctx.clock.now(),
        )
    at = ctx.clock.now().isoformat()
    usage_file = tmp_path / "usage.csv"
    usage_file.write_text(
        "record_id,msisdn,session_id,bytes,recorded_at\n"
        f"r-1,{CARD},s-1,1000,{at}\n"
        f"r-2,{CARD},s-1,2500,{at}\n"
        f"r-3,{CARD},s-1,12.5,{at}\n"
    )
    first = run_import(settings, str(usage_file))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "2 imported" in first.stdout and "1 rejected" in first.stdout
    rejects = (tmp_path / "usage.csv.rejects.csv").read_text()
    assert "r-3" in rejects and "bytes" in rejects
    again = run_import(settings, str(usage_file), "--rejects", str(tmp_path / "again.csv"))
    assert "2 already imported" in again.stdout, again.stdout
    with demo_db.unit_of_work(write=False) as s:
        used = s.execute(select(Package.quota_used_bytes)).scalar_one()
    assert used == 3500
    missing = run_import(settings, str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "cannot read" in missing.stdout
