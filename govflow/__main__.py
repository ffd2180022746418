"""`python -m govflow` runs the CLI."""

from govflow.cli import app

app()
