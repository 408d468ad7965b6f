"""Small builders for hand-worked BOMs (amounts as decimal strings, as the API carries them)."""

from __future__ import annotations

from typing import Any


def mat(
    hs: str, value: str, origin: str = "CN", originating: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"hs": hs, "origin": origin, "value": value, "originating": originating, **extra}


def bom(
    *materials: dict[str, Any],
    fob: str = "1000.00",
    exporting: str = "JP",
    importing: str = "VN",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "fob": fob,
        "currency": "USD",
        "exporting_country": exporting,
        "importing_country": importing,
        "materials": list(materials),
        **extra,
    }
