"""Config building blocks: the strict base model, validated scalar types, error reporting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from mlplatform.quantity import Quantity

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


def _matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


DnsLabel = Annotated[str, _matches(_DNS_LABEL, "a DNS-1123 label (lowercase a-z, 0-9, '-', ≤63)")]
DnsName = Annotated[str, _matches(_DNS_NAME, "a DNS-1123 subdomain such as ml.example.com")]
Email = Annotated[str, _matches(_EMAIL, "an email address such as alice@example.com")]
Duration = Annotated[str, _matches(_DURATION, "a duration such as 30s, 10m, 15d")]
Registry = Annotated[str, _matches(_REGISTRY, "a registry host[:port][/path] without scheme")]
Replicas = Annotated[int, Field(ge=1, le=50)]


class Model(BaseModel):
    """Base of every config model: camelCase keys, no unknown keys, immutable."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class ConfigError(ValueError):
    """Invalid stack configuration; `problems` holds one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack config:\n" + "\n".join(f"  - {p}" for p in problems))


def dotted_path(root: str, loc: tuple[Any, ...]) -> str:
    """`platform.identity.staticUsers.0.email`"""
    return ".".join([root, *(str(p) for p in loc)])


def explain(
    err: ValidationError,
    root: str,
    model: type[BaseModel] | None = None,
    path: Callable[[str, tuple[Any, ...]], str] = dotted_path,
) -> list[str]:
    """One line per pydantic error: path, message, bad value, and (given the model) the
    allowed keys for a typo."""
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
            if model is not None:
                msg += f"; allowed keys here: {', '.join(_allowed_keys(model, e['loc'][:-1]))}"
        elif e["type"] == "missing":
            msg = "required but missing"
        elif (
            "input" in e and not isinstance(e["input"], dict | list) and repr(e["input"]) not in msg
        ):
            msg = f"{msg} (got {e['input']!r})"
        lines.append(f"{path(root, e['loc'])}: {msg}")
    return lines


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            break
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or n for n, f in current.model_fields.items())
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


class ResourceList(Model):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(Model):
    requests: ResourceList = ResourceList(cpu="100m", memory="128Mi")
    limits: ResourceList = ResourceList(cpu="1", memory="512Mi")

    def as_k8s(self) -> dict[str, dict[str, str]]:
        return {
            kind: {k: str(v) for k, v in getattr(self, kind).model_dump().items() if v is not None}
            for kind in ("requests", "limits")
        }
