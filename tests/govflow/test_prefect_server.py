"""The Prefect server govflow starts keeps its concurrency leases across a restart."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from govflow.prefect_server import LEASE_STORAGE, start_prefect_server, stop_prefect_server

pytestmark = pytest.mark.prefect


class TestLeaseStorage:
    """Deployment concurrency leases live on disk, not in the server's memory."""

    def test_the_started_server_stores_leases_on_disk(self) -> None:
        """A server restart must not leak the intake and watchdog slots (found by the soak)."""
        home = Path(tempfile.mkdtemp(prefix="govflow-prefect-lease-"))
        process, api_url = start_prefect_server(home, ui=False)
        try:
            settings = httpx.get(f"{api_url}/admin/settings", timeout=10).json()
            assert settings["server"]["concurrency"]["lease_storage"] == LEASE_STORAGE
        finally:
            stop_prefect_server(process)
            shutil.rmtree(home, ignore_errors=True)
