"""A subset of Go's text/template, enough to run istiod's sidecar injection template.

istiod renders the `sidecar` template of its `istio-sidecar-injector` ConfigMap with Go's
text/template, Sprig and its own functions (istio/istio pkg/kube/inject/template.go,
`InjectionFuncmap`, 1.28.0 and 1.29.1). This evaluator implements the actions (if / else if / else,
with, range, define, template, variables, pipelines, trim markers, comments) and the functions
that template calls, so a test can see the containers istiod would inject. An unknown function
or construct raises instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:\\.|[^"\\])*")|(?P<raw>`[^`]*`)|(?P<lp>\()|(?P<rp>\)(?:\.\w+)*)|(?P<pipe>\|)
    |(?P<decl>:=)|(?P<assign>=)|(?P<comma>,)|(?P<var>\$\w*(?:\.\w+)*)|(?P<field>(?:\.\w+)+|\.)
    |(?P<num>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_]\w*)
    )""",
    re.X,
)


class TemplateError(ValueError):
    pass


# -- parsing -------------------------------------------------------------------------------


@dataclass
class Pipe:
    decl: list[str]  # variables declared (:=) or assigned (=)
    assign: bool
    commands: list[list[Any]]  # each a list of terms


@dataclass
class Node:
    kind: str  # text, action, if, with, range, template
    text: str = ""
    pipe: Pipe | None = None
    branches: list[tuple[Pipe, list[Node]]] = field(default_factory=list)
    body: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)
    name: str = ""


def _tokens(body: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    body = body.strip()
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot read {body[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return out


def _pipe(tokens: list[tuple[str, str]]) -> Pipe:
    decl: list[str] = []
    assign = False
    ops = [k for k, _ in tokens]
    for op in ("decl", "assign"):
        if op in ops and all(k in ("var", "comma") for k in ops[: ops.index(op)]):
            i = ops.index(op)
            decl = [v for k, v in tokens[:i] if k == "var"]
            assign = op == "assign"
            tokens = tokens[i + 1 :]
            break
    commands: list[list[Any]] = [[]]
    depth_stack: list[list[list[Any]]] = []
    for kind, value in tokens:
        if kind == "lp":
            depth_stack.append(commands)
            commands = [[]]
        elif kind == "rp":
            inner = Pipe([], False, commands)
            commands = depth_stack.pop()
            chain = value[1:].split(".")[1:] if value != ")" else []
            commands[-1].append(("group", inner, chain))
        elif kind == "pipe":
            commands.append([])
        else:
            commands[-1].append((kind, value))
    if depth_stack:
        raise TemplateError("unbalanced parentheses")
    return Pipe(decl, assign, commands)


def parse(text: str) -> tuple[list[Node], dict[str, list[Node]]]:
    """The template's nodes and its `define`d templates."""
    pieces: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION.finditer(text):
        chunk = text[pos : m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        pieces.append(("text", chunk))
        pieces.append(("action", m.group(2).strip()))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = text[pos:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    defines: dict[str, list[Node]] = {}
    stack: list[tuple[Node, list[Node]]] = []  # open block, the list being filled
    root: list[Node] = []
    current = root
    for kind, value in pieces:
        if kind == "text":
            if value:
                current.append(Node("text", text=value))
            continue
        if value.startswith("/*"):
            continue
        word = value.split(None, 1)[0] if value else ""
        rest = value[len(word) :].strip()
        if word in ("if", "with", "range"):
            node = Node(word)
            node.branches.append((_pipe(_tokens(rest)), []))
            current.append(node)
            stack.append((node, current))
            current = node.branches[-1][1]
        elif word == "define":
            node = Node("define", name=json.loads(rest))
            stack.append((node, current))
            current = node.body
        elif word == "else":
            node = stack[-1][0]
            if rest.startswith("if "):
                node.branches.append((_pipe(_tokens(rest[3:])), []))
                current = node.branches[-1][1]
            elif rest:
                raise TemplateError(f"unsupported {value!r}")
            else:
                current = node.otherwise
        elif word == "end":
            node, current = stack.pop()
            if node.kind == "define":
                defines[node.name] = node.body
        elif word == "template":
            name_token, *args = _tokens(rest)
            node = Node("template", name=json.loads(name_token[1]), pipe=_pipe(args))
            current.append(node)
        elif word in ("block", "break", "continue"):
            raise TemplateError(f"unsupported action {word}")
        else:
            current.append(Node("action", pipe=_pipe(_tokens(value))))
    if stack:
        raise TemplateError("unclosed block")
    return root, defines


# -- evaluation ----------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (list, dict)) and not value)


def gostr(value: Any) -> str:
    """Go's %v of a value."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(gostr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{gostr(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)
    return re.sub(r"%[tsdv]", lambda _: gostr(next(values)), fmt)


def _exclude_inbound_port(port: Any, excluded: str) -> str:
    """istio pkg/kube/inject/template.go excludeInboundPort."""
    port_str = gostr(port).strip()
    if not port_str or port_str == "0":
        return excluded
    ports = [p.strip() for p in (excluded or "").split(",")]
    if port_str in ports:
        return excluded
    return ",".join([*(p for p in ports if p), port_str])


def _indent(spaces: int, source: str) -> str:
    """istio's indent: every line but the first."""
    lines = source.split("\n")
    return "\n".join([lines[0], *(" " * spaces + line for line in lines[1:])])


def _nindent(spaces: int, source: str) -> str:
    """Sprig's nindent: a newline, then every line indented."""
    return "\n" + "\n".join(" " * spaces + line for line in source.split("\n"))


def _omit_nil(value: Any) -> Any:
    """istio's omitNil (1.29): nulls dropped from maps and lists, empty ones become null."""
    if isinstance(value, dict):
        out = {k: v for k, v in ((k, _omit_nil(v)) for k, v in value.items()) if v is not None}
        return out or None
    if isinstance(value, list):
        items = [v for v in (_omit_nil(v) for v in value) if v is not None]
        return items or None
    return value


def _eq(a: Any, *others: Any) -> bool:
    return any(a == b for b in others)


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        if container is None:
            return None
        container = container.get(key) if isinstance(container, dict) else container[key]
    return container


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truthy(v),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
    "len": lambda v: len(v or []),
    "list": lambda *v: list(v),
    "append": lambda seq, v: [*(seq or []), v],
    "index": _index,
    "default": lambda d, v=None: v if truthy(v) else d,
    "quote": lambda *v: " ".join(json.dumps(gostr(x)) for x in v if x is not None),
    "trunc": lambda n, s: s[:n],
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "toLower": lambda s: s.lower(),
    "join": lambda sep, seq: sep.join(gostr(v) for v in seq or []),
    "printf": _printf,
    "contains": lambda needle, haystack: needle in (haystack or ""),
    "isset": lambda m, key: key in (m or {}),
    "annotation": lambda meta, name, default: (meta.get("Annotations") or {}).get(
        name, gostr(default)
    ),
    "valueOrDefault": lambda v, d: d if v in ("", None) else v,
    "excludeInboundPort": _exclude_inbound_port,
    "toYaml": lambda v: yaml.safe_dump(v, default_flow_style=False),
    "indent": _indent,
    "nindent": _nindent,
    "fromJSON": json.loads,
    "toJSON": lambda m: json.dumps(m or {}),
    "structToJSON": json.dumps,
    "protoToJSON": json.dumps,
    "omitNil": _omit_nil,
    "appendMultusNetwork": lambda existing, network: (
        f"{existing},{network}" if existing else network
    ),
}


class Evaluator:
    def __init__(self, defines: dict[str, list[Node]], root: Any) -> None:
        self.defines = defines
        self.root = root

    def run(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]]) -> str:
        out: list[str] = []
        for node in nodes:
            out.append(self._node(node, dot, scopes))
        return "".join(out)

    def _node(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        if node.kind == "text":
            return node.text
        if node.kind == "action":
            assert node.pipe is not None
            value = self.pipe(node.pipe, dot, scopes)
            return "" if node.pipe.decl else gostr(value)
        if node.kind == "template":
            assert node.pipe is not None
            arg = self.pipe(node.pipe, dot, scopes) if node.pipe.commands[0] else None
            return self.run(self.defines[node.name], arg, [{"$": self.root}])
        if node.kind == "if":
            for pipe, body in node.branches:
                if truthy(self.pipe(pipe, dot, scopes)):
                    return self.run(body, dot, [*scopes, {}])
            return self.run(node.otherwise, dot, [*scopes, {}])
        pipe, body = node.branches[0]
        if node.kind == "with":
            value = self.pipe(Pipe([], False, pipe.commands), dot, scopes)
            if truthy(value):
                return self.run(body, value, [*scopes, {}])
            return self.run(node.otherwise, dot, [*scopes, {}])
        if node.kind == "range":
            value = self.pipe(Pipe([], False, pipe.commands), dot, scopes)
            items = (
                sorted(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
            )
            if not items:
                return self.run(node.otherwise, dot, [*scopes, {}])
            out = []
            for key, item in items:
                scope: dict[str, Any] = {}
                if len(pipe.decl) == 2:
                    scope = {pipe.decl[0]: key, pipe.decl[1]: item}
                elif pipe.decl:
                    scope = {pipe.decl[0]: item}
                out.append(self.run(body, item, [*scopes, scope]))
            return "".join(out)
        raise TemplateError(f"unknown node {node.kind}")

    def pipe(self, pipe: Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for i, command in enumerate(pipe.commands):
            value = self._call(command, dot, scopes, value, i > 0)
        if pipe.decl:
            name = pipe.decl[0]
            if pipe.assign:
                scope = next((s for s in reversed(scopes) if name in s), None)
                if scope is None:
                    raise TemplateError(f"assignment to undeclared {name}")
                scope[name] = value
            else:
                scopes[-1][name] = value
        return value

    def _call(
        self, terms: list[Any], dot: Any, scopes: list[dict[str, Any]], last: Any, has_last: bool
    ) -> Any:
        head = terms[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            name = head[1]
            lazy = [lambda t=t: self.term(t, dot, scopes) for t in terms[1:]]
            if has_last:
                lazy.append(lambda: last)
            if name in ("and", "or"):
                value: Any = None
                for arg in lazy:
                    value = arg()
                    if truthy(value) != (name == "and"):
                        return value
                return value
            if name not in FUNCS:
                raise TemplateError(f"unknown function {name}")
            return FUNCS[name](*(arg() for arg in lazy))
        if len(terms) != 1 or has_last:
            raise TemplateError(f"cannot call {head}")
        return self.term(head, dot, scopes)

    def term(self, term: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        kind = term[0]
        if kind == "group":
            return _fields(self.pipe(term[1], dot, scopes), term[2])
        value = term[1]
        if kind == "str":
            return json.loads(value)
        if kind == "raw":
            return value[1:-1]
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[value]
        if kind == "field":
            return dot if value == "." else _fields(dot, value.split(".")[1:])
        if kind == "var":
            name, *chain = value.split(".")
            if name == "$":
                return _fields(self.root, chain)
            for scope in reversed(scopes):
                if name in scope:
                    return _fields(scope[name], chain)
            raise TemplateError(f"undefined variable {name}")
        raise TemplateError(f"cannot evaluate {term}")


def _fields(value: Any, chain: list[str]) -> Any:
    for name in chain:
        if isinstance(value, dict):
            value = value.get(name)
        elif isinstance(value, str) and name == "String":
            pass  # the interception mode enum's String()
        elif value is None:
            return None
        else:
            raise TemplateError(f"no field {name} on {type(value).__name__}")
    return value


def render(text: str, data: dict[str, Any]) -> str:
    """Execute template `text` with `data` as its dot."""
    nodes, defines = parse(text)
    return Evaluator(defines, data).run(nodes, data, [{"$": data}])
