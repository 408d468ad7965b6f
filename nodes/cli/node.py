"""Top-level node commands: ``serve``, ``demo``, ``token``, ``network``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the node commands to the root app."""
