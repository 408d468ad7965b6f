"""Parse product-specific rule text into the AST of :mod:`documents.origin.ast`.

Grammar (keywords case-insensitive; the full description is in ``docs/origin-rules.md``)::

    rule      := conj { ("or" | ";" ["or"] | "," "or") conj }
    conj      := term { ("and" | "with" | "plus") term }
    term      := primary [ "except" ["from"] targets ]
    primary   := "(" rule ")" | "WO" | "CC" | "CTH" | "CTSH" | "CR"
               | ("RVC" | "QVC" | "LVC") NUMBER  -- also "RVC(40)", "RVC 40", "RVC40%"
               | "SP(" free text ")"
    targets   := target { ("," | "or" | "and" | ", or" | ", and") target }
    target    := ["Chapter(s)" | "heading(s)" | "subheading(s)"] ["No." | "Nos."] code
                 ["through" | "to" | "-" code] { "," code ... }

An "or"/"and" after an exception continues the exception's list when what follows is a code or
a level word (``except from heading 40.01 or 40.02``), and starts a new alternative or
conjunct when what follows is a rule (``CC except from Chapter 01 or RVC40``).

:func:`parse_rule` raises :class:`RuleSyntaxError` (an :class:`OriginInputError`) naming the
position of the first problem.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from documents.origin.ast import (
    AllOf,
    AnyOf,
    ChemicalReaction,
    CodeRange,
    Except,
    RegionalValueContent,
    Rule,
    SpecificProcess,
    TariffChange,
    WhollyObtained,
)
from ledger.errors import OriginInputError


class RuleSyntaxError(OriginInputError):
    code = "origin-rule-syntax"
    title = "The rule text does not parse"


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<sp>SP\s*\((?P<sptext>[^()]*)\))
  | (?P<vc>(?P<vclabel>RVC|QVC|LVC)\s*\(?\s*(?P<vcnum>\d+(?:\.\d+)?)\s*%?\s*\)?)
  | (?P<code>\d{4}\.\d{2}|\d{2}\.\d{2}(?:\.\d{2})?|\d+)
  | (?P<word>[A-Za-z]+\.?)
  | (?P<punct>[(),;\-–])
    """,
    re.VERBOSE | re.IGNORECASE,
)

_RULE_WORDS = {"wo", "cc", "cth", "ctsh", "cr"}
_LEVEL_WORDS = {
    "chapter": 2,
    "chapters": 2,
    "heading": 4,
    "headings": 4,
    "subheading": 6,
    "subheadings": 6,
    "sub-heading": 6,
}


class _Tok:
    __slots__ = ("kind", "pos", "text", "value")

    def __init__(self, kind: str, text: str, pos: int, value: object = None) -> None:
        self.kind, self.text, self.pos, self.value = kind, text, pos, value


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleSyntaxError(
                f"unexpected character {text[pos]!r} at position {pos + 1} in rule {text!r}"
            )
        kind = m.lastgroup
        if kind == "sptext":
            kind = "sp"
        if kind in ("vclabel", "vcnum"):
            kind = "vc"
        if m.group("ws"):
            pass
        elif m.group("sp") is not None:
            process = " ".join(m.group("sptext").split())
            if not process:
                raise RuleSyntaxError(f"SP() names no process in rule {text!r}")
            out.append(_Tok("sp", m.group(0), pos, process))
        elif m.group("vc") is not None:
            out.append(_Tok("vc", m.group(0), pos, (m.group("vclabel").upper(), m.group("vcnum"))))
        elif m.group("code") is not None:
            out.append(_Tok("code", m.group(0), pos))
        elif m.group("word") is not None:
            out.append(_Tok("word", m.group(0).lower().rstrip("."), pos))
        else:
            p = m.group("punct")
            out.append(_Tok("punct", "-" if p == "–" else p, pos))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    # -- helpers
    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def fail(self, message: str, tok: _Tok | None = None) -> RuleSyntaxError:
        tok = tok if tok is not None else self.peek()
        where = f"at position {tok.pos + 1} ({tok.text!r})" if tok else "at the end"
        return RuleSyntaxError(f"{message} {where} in rule {self.text!r}")

    def is_word(self, tok: _Tok | None, *words: str) -> bool:
        return tok is not None and tok.kind == "word" and tok.text in words

    def is_punct(self, tok: _Tok | None, p: str) -> bool:
        return tok is not None and tok.kind == "punct" and tok.text == p

    def starts_rule(self, tok: _Tok | None) -> bool:
        if tok is None:
            return False
        return (
            tok.kind in ("sp", "vc") or self.is_punct(tok, "(") or self.is_word(tok, *_RULE_WORDS)
        )

    # -- grammar
    def parse(self) -> Rule:
        if not self.toks:
            raise RuleSyntaxError("the rule text is empty")
        node = self.rule()
        if self.peek() is not None:
            raise self.fail("unexpected text")
        return node

    def rule(self) -> Rule:
        options = [self.conj()]
        while True:
            t = self.peek()
            if self.is_word(t, "or"):
                self.i += 1
            elif self.is_punct(t, ";") or (
                self.is_punct(t, ",") and self.is_word(self.peek(1), "or")
            ):
                self.i += 1
                if self.is_word(self.peek(), "or"):
                    self.i += 1
            else:
                break
            options.append(self.conj())
        return options[0] if len(options) == 1 else AnyOf(tuple(options))

    def conj(self) -> Rule:
        parts = [self.term()]
        while True:
            t = self.peek()
            if self.is_word(t, "and", "with", "plus"):
                self.i += 1
            elif self.is_punct(t, ",") and self.is_word(self.peek(1), "and", "with"):
                self.i += 2
            else:
                break
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def term(self) -> Rule:
        node = self.primary()
        if self.is_word(self.peek(), "except"):
            if not isinstance(node, TariffChange):
                raise self.fail("an exception must follow CC, CTH or CTSH")
            self.i += 1
            if self.is_word(self.peek(), "from"):
                self.i += 1
            node = Except(node, self.targets(node))
        return node

    def primary(self) -> Rule:
        t = self.peek()
        if t is None:
            raise self.fail("a rule is missing")
        if self.is_punct(t, "("):
            self.i += 1
            node = self.rule()
            if not self.is_punct(self.peek(), ")"):
                raise self.fail("expected ')'")
            self.i += 1
            return node
        if t.kind == "sp":
            self.i += 1
            return SpecificProcess(str(t.value))
        if t.kind == "vc":
            self.i += 1
            label, num = t.value  # type: ignore[misc]
            try:
                threshold = Decimal(num)
            except InvalidOperation as exc:  # pragma: no cover - the regex admits digits only
                raise self.fail("bad value-content threshold", t) from exc
            if not (0 < threshold <= 100):
                raise self.fail("a value-content threshold must be between 0 and 100", t)
            return RegionalValueContent(threshold, label)
        if t.kind == "word":
            self.i += 1
            if t.text == "wo":
                return WhollyObtained()
            if t.text == "cc":
                return TariffChange(2)
            if t.text == "cth":
                return TariffChange(4)
            if t.text == "ctsh":
                return TariffChange(6)
            if t.text == "cr":
                return ChemicalReaction()
            if t.text in ("rvc", "qvc", "lvc"):
                raise self.fail("a value-content rule needs its threshold (e.g. RVC40)", t)
        raise self.fail("expected a rule (WO, CC, CTH, CTSH, RVCnn, CR, SP(...))", t)

    def targets(self, change: TariffChange) -> tuple[CodeRange, ...]:
        out: list[CodeRange] = []
        digits: int | None = None
        expect_target = True
        while True:
            t = self.peek()
            if expect_target:
                if self.is_word(t, *_LEVEL_WORDS):
                    digits = _LEVEL_WORDS[t.text]  # type: ignore[union-attr]
                    self.i += 1
                    if self.is_word(self.peek(), "no", "nos"):
                        self.i += 1
                    t = self.peek()
                if t is None or t.kind != "code":
                    raise self.fail("expected an HS code after 'except from'")
                self.i += 1
                first = self._code(t, digits)
                last = first
                nxt = self.peek()
                if self.is_word(nxt, "through", "to") or self.is_punct(nxt, "-"):
                    self.i += 1
                    t2 = self.peek()
                    if t2 is None or t2.kind != "code":
                        raise self.fail("expected the end of a code range")
                    self.i += 1
                    last = self._code(t2, len(first))
                    if last < first:
                        raise self.fail("a code range runs backwards", t2)
                out.append(CodeRange(first, last))
                expect_target = False
                continue
            # after a target: does a separator continue the list?
            j = 0
            if self.is_punct(t, ","):
                j = 1
                if self.is_word(self.peek(1), "or", "and"):
                    j = 2
            elif self.is_word(t, "or", "and"):
                j = 1
            if j == 0:
                break
            after = self.peek(j)
            if after is not None and (after.kind == "code" or self.is_word(after, *_LEVEL_WORDS)):
                self.i += j
                expect_target = True
                continue
            break
        return tuple(out)

    def _code(self, tok: _Tok, digits: int | None) -> str:
        raw = tok.text.replace(".", "")
        if digits is None:
            digits = len(raw) if len(raw) in (2, 4, 6) else None
            if digits is None:
                raise self.fail("cannot tell the level of this code", tok)
        if digits == 2 and len(raw) == 1:
            raw = "0" + raw
        if len(raw) != digits or not raw.isdigit():
            raise self.fail(f"expected a {digits}-digit code", tok)
        return raw


@lru_cache(maxsize=4096)
def parse_rule(text: str) -> Rule:
    """Parse rule text (e.g. ``"CTH or RVC40"``) into an AST node (cached: nodes are immutable)."""
    return _Parser(text).parse()
