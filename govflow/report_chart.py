"""The cycle-time report's chart: p50 hours per group, split into working, off-hours and paused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and in CI

import matplotlib.pyplot as plt

from govflow.report import Row

COLOURS = {"working": "#2f6fb0", "off-hours": "#b9c7d6", "paused": "#e0a040"}


def write_chart(rows: Sequence[Row], path: Path, title: str) -> Path:
    """A horizontal stacked bar per group (p50 of each part), saved as PNG at `path`."""
    names = [r.group for r in rows] or ["(nothing finished)"]
    parts = {
        "working": [r.p50_working for r in rows] or [0.0],
        "off-hours": [r.p50_off_hours for r in rows] or [0.0],
        "paused": [r.p50_paused for r in rows] or [0.0],
    }
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.5 * len(names)), dpi=110)
    left = [0.0] * len(names)
    for label, values in parts.items():
        axes.barh(names, values, left=left, color=COLOURS[label], label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel("hours (p50 per finished stage)")
    axes.set_title(title)
    axes.legend(loc="lower right", frameon=False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
