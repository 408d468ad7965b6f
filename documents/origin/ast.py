"""The rule language's abstract syntax: small immutable node classes.

A product-specific rule such as ``CC except from Chapter 01 or RVC40`` parses (see
:mod:`documents.origin.parser`) into::

    AnyOf((Except(ChangeOfChapter(), (CodeRange("01", "01"),)), RegionalValueContent(40)))

Every node renders back to canonical rule text with ``str()``; parsing that text gives an equal
node (tests check the round trip).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

_LEVEL_WORDS = {2: "Chapter", 4: "heading", 6: "subheading"}


def _dotted(code: str) -> str:
    if len(code) == 2:
        return code
    if len(code) == 4:
        return f"{code[:2]}.{code[2:]}"
    return f"{code[:4]}.{code[4:]}"


class Rule:
    """Base class of every node."""

    __slots__ = ()

    def walk(self):  # type: ignore[no-untyped-def]
        yield self


@dataclass(frozen=True, slots=True)
class WhollyObtained(Rule):
    def __str__(self) -> str:
        return "WO"


@dataclass(frozen=True, slots=True)
class TariffChange(Rule):
    """Every non-originating material must be classified elsewhere at ``digits`` digits."""

    digits: int  # 2 chapter, 4 heading, 6 subheading

    def __str__(self) -> str:
        return {2: "CC", 4: "CTH", 6: "CTSH"}[self.digits]

    @property
    def level_name(self) -> str:
        return {2: "chapter", 4: "heading", 6: "subheading"}[self.digits]


def ChangeOfChapter() -> TariffChange:
    return TariffChange(2)


def ChangeOfHeading() -> TariffChange:
    return TariffChange(4)


def ChangeOfSubheading() -> TariffChange:
    return TariffChange(6)


@dataclass(frozen=True, slots=True)
class CodeRange:
    """HS codes from ``first`` to ``last`` inclusive, all of the same length (2, 4 or 6)."""

    first: str
    last: str

    @property
    def digits(self) -> int:
        return len(self.first)

    def contains(self, code6: str) -> bool:
        prefix = code6[: self.digits]
        return self.first <= prefix <= self.last

    def __str__(self) -> str:
        word = _LEVEL_WORDS[self.digits]
        if self.first == self.last:
            return f"{word} {_dotted(self.first)}"
        plural = "Chapters" if self.digits == 2 else word + "s"
        return f"{plural} {_dotted(self.first)} through {_dotted(self.last)}"


@dataclass(frozen=True, slots=True)
class Except(Rule):
    """A tariff change that excludes non-originating materials from the given codes."""

    change: TariffChange
    excluded: tuple[CodeRange, ...]

    def __str__(self) -> str:
        return f"{self.change} except from {', '.join(str(r) for r in self.excluded)}"

    def excludes(self, code6: str) -> CodeRange | None:
        for r in self.excluded:
            if r.contains(code6):
                return r
        return None

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        yield self.change


@dataclass(frozen=True, slots=True)
class RegionalValueContent(Rule):
    """Regional (qualifying, local) value content of not less than ``threshold`` per cent."""

    threshold: Decimal
    label: str = "RVC"  # as the agreement writes it: RVC (RCEP, AJCEP), QVC (JTEPA), LVC (JVEPA)

    def __str__(self) -> str:
        t = self.threshold.normalize()
        return f"{self.label}{t:f}"


@dataclass(frozen=True, slots=True)
class ChemicalReaction(Rule):
    def __str__(self) -> str:
        return "CR"


@dataclass(frozen=True, slots=True)
class SpecificProcess(Rule):
    """A named manufacturing or processing operation that must be done in the Party."""

    process: str

    def __str__(self) -> str:
        return f"SP({self.process})"


@dataclass(frozen=True, slots=True)
class AnyOf(Rule):
    """Alternatives: meeting any one is enough (RCEP Annex 3A headnote 4)."""

    options: tuple[Rule, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(o, AnyOf) for o in self.options)

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for o in self.options:
            yield from o.walk()


@dataclass(frozen=True, slots=True)
class AllOf(Rule):
    """Conjunction ("and", "with"): every part must be met."""

    parts: tuple[Rule, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(p, AllOf) for p in self.parts)

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for p in self.parts:
            yield from p.walk()


def _wrap(node: Rule, parent: type) -> str:
    text = str(node)
    if isinstance(node, (AnyOf, AllOf)) and not isinstance(node, parent):
        return f"({text})"
    if isinstance(node, Except) and parent is AllOf:
        return f"({text})"
    return text


def tariff_changes(rule: Rule) -> list[TariffChange | Except]:
    """The tariff-change tests in a rule (for de minimis and explanations)."""
    out: list[TariffChange | Except] = []
    for node in rule.walk():
        if isinstance(node, Except) or (
            isinstance(node, TariffChange)
            and not any(isinstance(e, Except) and e.change is node for e in out)
        ):
            out.append(node)
    return out
