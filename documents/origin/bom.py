"""The bill of materials (``--bom`` and the body of the origin API), as in docs/origin-formats.md.

Money and weights are :class:`~decimal.Decimal` (JSON numbers are read with
``parse_float=Decimal``, so ``40.10`` stays exactly 40.10). Countries are ISO 3166-1 alpha-2
codes checked against :mod:`pycountry`; a material's ``origin`` may also be ``"unknown"``.
Validation is strict (unknown fields are refused) and every problem is reported with its
location as a JSON pointer (``/materials/3/hs``).

Fields beyond the documented minimum (docs/origin-formats.md), all optional:

* ``weight_kg`` (top level): the good's total weight, for de minimis by weight (Chapters 50–63);
* ``wholly_obtained``: the producer declares the good wholly obtained or produced in the
  exporting Party (e.g. RCEP Art. 3.3);
* ``operations``: the working or processing done in the exporting Party, as codes — the
  minimal-operation codes of the agreement profile (``packaging``, ``labelling``, …),
  ``chemical-reaction`` for the CR rule, or any process named in an ``SP(...)`` rule;
* ``costs``: ``direct_labour``, ``direct_overhead``, ``other``, ``profit`` for the build-up
  RVC method (RCEP Art. 3.5.1(a)).
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ledger.errors import OriginInputError

UNKNOWN = "unknown"


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is required, not a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest decimal that reads back as the float
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        return value  # pydantic parses decimal strings ("120.50")
    return value


Money = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, allow_inf_nan=False)]
Weight = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, allow_inf_nan=False)]


@lru_cache(maxsize=512)
def _known_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@lru_cache(maxsize=64)
def _known_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def _country(code: str) -> str:
    if not isinstance(code, str) or len(code) != 2 or not code.isupper():
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code (two capital letters)")
    if not _known_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _hs6(code: Any) -> str:
    if not isinstance(code, str):
        raise ValueError('an HS code must be a string of 6 digits (e.g. "870899")')
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"{code!r} is not a 6-digit HS subheading (digits only, no dots)")
    return code


class Material(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hs: str
    description: str | None = None
    origin: str
    value: Money
    originating: bool
    weight_kg: Weight | None = None

    @field_validator("hs", mode="before")
    @classmethod
    def _check_hs(cls, v: Any) -> str:
        return _hs6(v)

    @field_validator("origin")
    @classmethod
    def _check_origin(cls, v: str) -> str:
        return UNKNOWN if v == UNKNOWN else _country(v)

    @property
    def label(self) -> str:
        return f"{self.hs} ({self.description})" if self.description else self.hs


class Costs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direct_labour: Money = Decimal(0)
    direct_overhead: Money = Decimal(0)
    other: Money = Decimal(0)
    profit: Money = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.direct_labour + self.direct_overhead + self.other + self.profit


class Bom(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fob: Money
    currency: str
    hs_edition: Literal["HS2012", "HS2017", "HS2022"] | None = None
    exporting_country: str
    importing_country: str
    materials: list[Material] = Field(default_factory=list, max_length=10_000)
    weight_kg: Weight | None = None
    wholly_obtained: bool = False
    operations: list[str] | None = None
    costs: Costs | None = None

    @field_validator("fob")
    @classmethod
    def _positive_fob(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("the FOB value must be greater than zero")
        return v

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, v: str) -> str:
        if len(v) != 3 or not v.isupper() or not _known_currency(v):
            raise ValueError(f"{v!r} is not an ISO 4217 currency code")
        return v

    @field_validator("exporting_country", "importing_country")
    @classmethod
    def _check_country(cls, v: str) -> str:
        return _country(v)

    @field_validator("operations")
    @classmethod
    def _check_operations(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for op in v:
            norm = normalise_operation(op)
            if not norm:
                raise ValueError("an operation must be a non-empty name")
            out.append(norm)
        return out


def normalise_operation(name: str) -> str:
    return "-".join(name.strip().lower().replace("_", " ").split())


def _pointer(loc: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def parse_bom(data: Any) -> Bom:
    """Validate a BOM given as JSON text/bytes or an already-decoded mapping."""
    if isinstance(data, Bom):
        return data
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OriginInputError("the bill of materials is not UTF-8 text") from exc
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_float=Decimal)
        except ValueError as exc:
            raise OriginInputError(f"the bill of materials is not valid JSON: {exc}") from exc
        except RecursionError:
            raise OriginInputError(
                "the bill of materials is nested too deeply to read", location="/"
            ) from None
    if not isinstance(data, dict):
        raise OriginInputError("the bill of materials must be a JSON object", location="")
    try:
        return Bom.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = tuple(
                p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function"))
            )
            msg = e["msg"].removeprefix("Value error, ")
            errors.append({"location": _pointer(loc), "message": msg})
        first = errors[0]
        detail = "; ".join(f"{x['location']}: {x['message']}" for x in errors[:10])
        raise OriginInputError(
            f"the bill of materials is not valid ({len(errors)} problem(s)): {detail}",
            location=first["location"],
            errors=errors,
        ) from None
