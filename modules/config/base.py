"""Config building blocks: the strict base model, validated scalar types, error reporting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mlplatform.quantity import Quantity, parse_quantity

# The API server's bounds (k8s.io/apimachinery pkg/util/validation/validation.go): a DNS-1123
# label is ≤63 characters, a subdomain ≤253 made of such labels; a qualified name (label key)
# is an optional subdomain prefix and `/`, then ≤63 of [A-Za-z0-9-_.] starting and ending
# alphanumeric; a label value is the same name part, possibly empty. Annotations: ≤256 KiB
# in total per object (apimachinery pkg/api/validation/objectmeta.go TotalAnnotationSizeLimitB).
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_LABEL = re.compile(rf"^{_LABEL}$")
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
ANNOTATION_BYTES = 256 * 1024
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


def _matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


class Problems(ValueError):
    """Raised by a validator to report problems at exact sub-paths of the model it checks:
    `explain` appends each relative path (a tuple of keys and indexes) to the model's own."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(msg for _, msg in problems))


def problem(path: str | tuple[str | int, ...], message: str) -> Problems:
    """One problem at `path` (dotted camelCase keys, or a tuple with list indexes)."""
    return Problems([(tuple(path.split(".")) if isinstance(path, str) else path, message)])


def raise_all(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise Problems(problems)


def _email(value: str) -> str:
    # email-validator checks syntax and the domain (no special-use names such as .local);
    # it never looks the domain up (check_deliverability=False): validation stays offline.
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as err:
        raise ValueError(
            f"{value!r} is not an email address such as alice@example.com: {err}"
        ) from None
    return value


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a label/annotation key the API server accepts, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not _DNS_NAME.match(prefix):
        return f"{key!r} is not a label key: its prefix {prefix!r} is not a DNS-1123 subdomain"
    if not _QUALIFIED_NAME.match(name):
        return (
            f"{key!r} is not a label key such as cost-center or example.com/team (name part "
            "≤63 of A-Z, a-z, 0-9, '-', '_', '.', starting and ending alphanumeric)"
        )
    return None


def _label_key(value: str) -> str:
    why = label_key_problem(value)
    if why:
        raise ValueError(why)
    return value


def _label_value(value: str) -> str:
    if value and not _QUALIFIED_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a label value (≤63 of A-Z, a-z, 0-9, '-', '_', '.', starting "
            "and ending alphanumeric, or empty)"
        )
    return value


def url_check(schemes: tuple[str, ...], why: str) -> AfterValidator:
    def check(value: str) -> str:
        url = urlsplit(value)
        if url.scheme not in schemes or not url.hostname:
            raise ValueError(f"{value!r} must be a {' or '.join(schemes)} URL: {why}")
        if url.username or url.password:
            raise ValueError(
                f"{value!r} carries credentials; URLs end up in stack state and logs, keep "
                "credentials in secret config"
            )
        return value

    return AfterValidator(check)


DnsLabel = Annotated[str, _matches(_DNS_LABEL, "a DNS-1123 label (lowercase a-z, 0-9, '-', ≤63)")]
DnsName = Annotated[str, _matches(_DNS_NAME, "a DNS-1123 subdomain such as ml.example.com")]
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Labels = dict[LabelKey, LabelValue]
HttpsUrl = Annotated[str, url_check(("https",), "credentials or certificates travel over it")]
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
    return ".".join([root, *(str(p) for p in loc if p != "[key]")])  # [key]: a bad dict key


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
        raised = e.get("ctx", {}).get("error")
        if isinstance(raised, Problems):
            lines.extend(f"{path(root, (*e['loc'], *sub))}: {msg}" for sub, msg in raised.problems)
            continue
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

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        # The API server refuses a container whose request exceeds its limit.
        raise_all(
            [
                (
                    ("requests", name),
                    f"request {request} exceeds the limit {limit}; lower the request or raise "
                    f"limits.{name}",
                )
                for name in ("cpu", "memory")
                if (request := getattr(self.requests, name)) is not None
                and (limit := getattr(self.limits, name)) is not None
                and parse_quantity(str(request)) > parse_quantity(str(limit))
            ]
        )
        return self

    def as_k8s(self) -> dict[str, dict[str, str]]:
        return {
            kind: {k: str(v) for k, v in getattr(self, kind).model_dump().items() if v is not None}
            for kind in ("requests", "limits")
        }


def sized(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> Resources:
    """Requests and limits from four quantities (the default size of a container)."""
    return Resources.model_validate(
        {
            "requests": {"cpu": req_cpu, "memory": req_mem},
            "limits": {"cpu": lim_cpu, "memory": lim_mem},
        }
    )
