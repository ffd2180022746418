"""What a govflow process does to the ledger before it serves: migrate, then import SOPs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from config.settings import Settings
from domain.rules import Rules
from govflow.sop_import import ImportReport, import_sops
from integrations.db.engine import make_sessionmaker
from integrations.db.migrate import upgrade


def sop_directory(settings: Settings, rules: Rules) -> Path:
    """The SOP folder: `sops.directory` of the rules, relative to the rules file."""
    return settings.rules.parent / rules.sops.directory


def prepare_ledger(settings: Settings, rules: Rules, engine: Engine, now: datetime) -> ImportReport:
    """Bring the ledger to the current schema and import SOP files the registry lacks.

    Safe to run at every start and from several processes at once: migrations are
    idempotent and the import adds only new SOPs (one transaction, committed here). Files
    that differ from what the registry holds are reported, never applied.
    """
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        return import_sops(session, sop_directory(settings, rules), now, rules=rules)
