"""compose.yaml as data, for the static checks of the deployment files and their docs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pins

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def labels() -> Iterator[tuple[str, str, str]]:
    """(service, label key, value) of every label in compose.yaml."""
    for name, service in SERVICES.items():
        for label in service.get("labels", []):
            key, _, value = label.partition("=")
            yield name, key, value
