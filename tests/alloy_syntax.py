"""A parser for the subset of the Alloy configuration syntax our configs use.

`alloy fmt` needs the Alloy binary; this checks the structure offline: blocks (`name.path
"label" { ... }`), attributes (`name = expr`), `//` comments, and expressions made of strings,
numbers, booleans, lists, objects (`{"k" = v, ...}`), references (`a.b.c`), function calls
(`sys.env("X")`) and `+`. Anything else is a SyntaxError naming the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+)|(?P<nl>\n)|(?P<comment>//[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<number>-?[0-9]+(?:\.[0-9]+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<punct>[{}\[\]()=,+])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Ref:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Add:
    left: Any
    right: Any


@dataclass
class Block:
    name: str
    label: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def block(self, name: str, label: str | None = None) -> Block:
        found = [b for b in self.blocks if b.name == name and (label is None or b.label == label)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} blocks {name} {label or ''} in {self.name}")
        return found[0]

    def all(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SyntaxError(f"line {line}: unexpected {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind == "nl":
            line += 1
            out.append(("nl", "\n", line - 1))
        elif kind not in ("ws", "comment"):
            out.append((kind, m.group(), line))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def _peek(self, skip_nl: bool = True) -> tuple[str, str, int]:
        while skip_nl and self.i < len(self.toks) and self.toks[self.i][0] == "nl":
            self.i += 1
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "", -1)

    def _take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str, int]:
        tok = self._peek()
        if (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise SyntaxError(f"line {tok[2]}: expected {value or kind}, got {tok[1]!r}")
        self.i += 1
        return tok

    def body(self, end: str) -> Block:
        out = Block("")
        while self._peek()[1] != end:
            _, name, line = self._take(kind="ident")
            nxt = self._peek(skip_nl=False)
            if nxt[1] == "=":
                self.i += 1
                if name in out.attrs:
                    raise SyntaxError(f"line {line}: attribute {name} set twice")
                out.attrs[name] = self.expr()
                if self._peek(skip_nl=False)[0] not in ("nl", "eof") and self._peek()[1] != end:
                    raise SyntaxError(f"line {line}: one attribute per line")
                continue
            label = None
            if nxt[0] == "string":
                label = json.loads(self._take(kind="string")[1])
            self._take("{")
            inner = self.body("}")
            self._take("}")
            out.blocks.append(Block(name, label, inner.attrs, inner.blocks))
        return out

    def expr(self) -> Any:
        left = self.term()
        while self._peek(skip_nl=False)[1] == "+":
            self.i += 1
            left = Add(left, self.term())
        return left

    def term(self) -> Any:
        kind, value, line = self._peek()
        if kind == "string":
            self.i += 1
            return json.loads(value)
        if kind == "number":
            self.i += 1
            return float(value) if "." in value else int(value)
        if value == "[":
            self.i += 1
            items = []
            while self._peek()[1] != "]":
                items.append(self.expr())
                if self._peek()[1] == ",":
                    self.i += 1
            self._take("]")
            return items
        if value == "{":
            self.i += 1
            obj: dict[str, Any] = {}
            while self._peek()[1] != "}":
                key_kind, key, _ = self._peek()
                self.i += 1
                obj[json.loads(key) if key_kind == "string" else key] = (
                    self._take("=") and self.expr()
                )
                if self._peek()[1] == ",":
                    self.i += 1
            self._take("}")
            return obj
        if kind == "ident":
            self.i += 1
            if value in ("true", "false"):
                return value == "true"
            if self._peek(skip_nl=False)[1] == "(":
                self.i += 1
                args = []
                while self._peek()[1] != ")":
                    args.append(self.expr())
                    if self._peek()[1] == ",":
                        self.i += 1
                self._take(")")
                return Call(value, tuple(args))
            return Ref(value)
        raise SyntaxError(f"line {line}: unexpected {value!r} in an expression")


def parse(text: str) -> Block:
    """The config as one root Block whose `blocks` are its components."""
    parser = _Parser(text)
    root = parser.body("")
    if parser._peek()[0] != "eof":
        raise SyntaxError(f"line {parser._peek()[2]}: unexpected {parser._peek()[1]!r}")
    return root


def references(value: Any) -> list[str]:
    """Every reference (`a.b.c`) inside an expression."""
    if isinstance(value, Ref):
        return [value.path]
    if isinstance(value, Add):
        return references(value.left) + references(value.right)
    if isinstance(value, Call):
        return [r for a in value.args for r in references(a)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in references(v)]
    return []


def all_references(block: Block) -> list[str]:
    return [r for v in block.attrs.values() for r in references(v)] + [
        r for b in block.blocks for r in all_references(b)
    ]
