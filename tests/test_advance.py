"""Temporary alias: the advance tests moved to tests/govflow/test_advance.py (issue 13).

tests/flows/test_lost_triggers.py still imports `ticket` from here and was open in another
session when the tests moved; once its import names tests.govflow.test_advance, delete this file.
It holds no tests, so nothing is collected twice.
"""

from __future__ import annotations

from tests.govflow.test_advance import ticket

__all__ = ["ticket"]
