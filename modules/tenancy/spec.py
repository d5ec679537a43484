"""The tenant spec: typed, merged over `tenantDefaults`, checked against the platform.

A tenant is one entry of the `mlplatform:tenants` list. Objects merge key by key over
`platform.tenantDefaults`, lists replace. Every problem is reported at once as
`tenants[i].<path>: <what is wrong> (got <value>); <what is allowed>`.
"""

from __future__ import annotations

import importlib
import ipaddress
import pkgutil
import re
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from mlplatform.config.base import (
    ConfigError,
    DnsLabel,
    DnsName,
    Email,
    Model,
    ResourceList,
    Resources,
    explain,
)
from mlplatform.config.gpu import GPU_RESOURCE
from mlplatform.manifests import PodSecurity
from mlplatform.quantity import PositiveQuantity, Quantity, parse_quantity

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig

Role = Literal["admin", "edit", "view"]
# Resources a ClusterQueue may quota; GPU resources only on flavors marked `gpu: true`.
QUEUE_RESOURCES = ("cpu", "memory", "pods", "ephemeral-storage", GPU_RESOURCE)
GPU_RESOURCES = (GPU_RESOURCE,)
MAX_NAME = 40  # leaves room for derived names: bucket `tenant-<name>` must fit 63
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def _tenant_name(value: str) -> str:
    if len(value) > MAX_NAME:
        raise ValueError(f"{value!r} is longer than {MAX_NAME} characters")
    if value.startswith("kube-"):
        raise ValueError(f"{value!r} starts with 'kube-', which Kubernetes reserves")
    return value


def _queue_resource(value: str) -> str:
    if value not in QUEUE_RESOURCES:
        raise ValueError(
            f"{value!r} is not a queue resource; use one of {', '.join(QUEUE_RESOURCES)}"
        )
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR such as 203.0.113.0/24") from None
    return value


def _label_key(value: str) -> str:
    if not _LABEL_KEY.match(value):
        raise ValueError(f"{value!r} is not a label key such as cost-center or example.com/team")
    return value


TenantName = Annotated[DnsLabel, AfterValidator(_tenant_name)]
QueueResource = Annotated[str, AfterValidator(_queue_resource)]
FlavorQuotas = dict[DnsLabel, dict[QueueResource, Quantity]]
Cidr = Annotated[str, AfterValidator(_cidr)]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=0)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[
    str, Field(max_length=63, pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
]


class Member(Model):
    email: Email
    role: Role = "edit"


class Quota(Model):
    """The namespace ResourceQuota: requests of cpu/memory/GPUs, pods, PVC storage."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: Count | None = None
    pods: Count | None = None
    storage: Quantity | None = None


class Preemption(Model):
    reclaim_within_cohort: Literal["Never", "LowerPriority", "Any"] = "Any"
    within_cluster_queue: Literal["Never", "LowerPriority", "LowerOrNewerEqualPriority"] = (
        "LowerPriority"
    )


class KueueSettings(Model):
    """The tenant's ClusterQueue: nominal quota per flavor, cohort, limits, priorities."""

    cohort: DnsLabel | None = None
    quota: FlavorQuotas = {}
    borrowing_limit: FlavorQuotas = {}
    lending_limit: FlavorQuotas = {}
    preemption: Preemption = Preemption()
    queueing_strategy: Literal["BestEffortFIFO", "StrictFIFO"] = "BestEffortFIFO"
    default_priority: DnsLabel | None = Field(None, description="default: the platform's")
    allowed_priorities: list[DnsLabel] | None = Field(None, description="default: all")


class Storage(Model):
    bucket: bool = True
    quota: PositiveQuantity | None = Field(None, description="hard bucket quota")


class Egress(Model):
    """An egress exception: a CIDR, or a host (NetworkPolicy cannot match names: see README)."""

    cidr: Cidr | None = None
    host: DnsName | None = None
    ports: list[Port] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> Egress:
        if (self.cidr is None) == (self.host is None):
            raise ValueError("set exactly one of cidr or host")
        return self


class Network(Model):
    egress: list[Egress] = []


class TenantDefaults(Model):
    """`platform.tenantDefaults`: what every tenant of the environment starts from."""

    pod_security: PodSecurity = "restricted"
    quota: Quota = Quota()
    container_defaults: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="128Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    kueue: KueueSettings = KueueSettings()
    storage: Storage = Storage()
    network: Network = Network()
    labels: dict[LabelKey, LabelValue] = {}


class TenantSpec(TenantDefaults):
    name: TenantName
    display_name: str = ""
    owners: list[Email] = Field(min_length=1)
    members: list[Member] = []

    @model_validator(mode="after")
    def _people_once(self) -> TenantSpec:
        emails = [*self.owners, *(m.email for m in self.members)]
        repeated = sorted({e for e in emails if emails.count(e) > 1})
        if repeated:
            raise ValueError(f"owners/members list {', '.join(repeated)} more than once")
        return self

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @property
    def namespace(self) -> str:
        return self.name

    @property
    def bucket(self) -> str:
        return f"tenant-{self.name}"

    @property
    def cluster_queue(self) -> str:
        return f"tenant-{self.name}"

    def people(self) -> dict[Role, list[str]]:
        """Role -> emails (owners are admins)."""
        out: dict[Role, list[str]] = {"admin": list(self.owners), "edit": [], "view": []}
        for m in self.members:
            out[m.role].append(m.email)
        return out


@cache
def platform_namespaces() -> tuple[str, ...]:
    """Kubernetes' own namespaces and every `*NAMESPACE` constant of the component modules.

    Imported lazily: the component modules import the config package, which imports this one.
    """
    import mlplatform.components as package

    found = set(SYSTEM_NAMESPACES)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for attr, value in vars(module).items():
            if attr.endswith("NAMESPACE") and isinstance(value, str):
                found.add(value)
    return tuple(sorted(found))


def merge(template: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` over `template`: objects merge key by key, everything else replaces."""
    out = dict(template)
    for key, value in entry.items():
        base = out.get(key)
        out[key] = (
            merge(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
        )
    return out


def _path(root: str, loc: tuple[Any, ...]) -> str:
    parts = (p for p in loc if p != "[key]")  # pydantic marks a bad dict key with [key]
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def parse_tenants(raw: Any, config: PlatformConfig) -> list[TenantSpec]:
    """Validate `mlplatform:tenants` against `config`; raise ConfigError listing every problem."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError([f"tenants: must be a list of tenants (got {type(raw).__name__})"])
    template = config.tenant_defaults.model_dump(by_alias=True, exclude_unset=True)
    problems: list[str] = []
    tenants: list[TenantSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        root = f"tenants[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{root}: must be an object (got {type(entry).__name__})")
            continue
        try:
            tenant = TenantSpec.model_validate(merge(template, entry))
        except ValidationError as err:
            problems.extend(explain(err, root, path=_path))
            continue
        if tenant.name in seen:
            problems.append(
                f"{root}.name: {tenant.name!r} is already tenants[{seen[tenant.name]}]; "
                "tenant names are unique"
            )
        seen.setdefault(tenant.name, i)
        problems.extend(platform_problems(tenant, config, root))
        tenants.append(tenant)
    if problems:
        raise ConfigError(problems)
    return tenants


def platform_problems(tenant: TenantSpec, config: PlatformConfig, root: str) -> list[str]:
    """What `tenant` asks of the platform that `config` does not provide."""
    problems = []
    reserved = platform_namespaces()
    if tenant.name in reserved:
        problems.append(
            f"{root}.name: {tenant.name!r} is a platform namespace; reserved: {', '.join(reserved)}"
        )
    components = config.components
    gpu_flavors = [f.name for f in components.kueue.flavors if f.gpu]
    if tenant.quota.gpu and not gpu_flavors:
        problems.append(
            f"{root}.quota.gpu: {tenant.quota.gpu} GPUs but the platform has no gpu flavor "
            "(components.kueue.flavors with gpu: true)"
        )
    if tenant.storage.bucket and not components.minio.enabled:
        problems.append(f"{root}.storage.bucket: needs components.minio.enabled")
    problems.extend(_queue_problems(tenant, config, f"{root}.kueue"))
    return problems


def _queue_problems(tenant: TenantSpec, config: PlatformConfig, root: str) -> list[str]:
    kueue, cfg = tenant.kueue, config.components.kueue
    if not cfg.enabled:
        return [f"{root}.quota: needs components.kueue.enabled"] if kueue.quota else []
    problems = []
    flavors = {f.name: f for f in cfg.flavors}
    for flavor, resources in kueue.quota.items():
        if flavor not in flavors:
            problems.append(
                f"{root}.quota.{flavor}: unknown flavor; components.kueue.flavors: "
                f"{', '.join(flavors)}"
            )
            continue
        for resource in resources:
            if resource in GPU_RESOURCES and not flavors[flavor].gpu:
                problems.append(
                    f"{root}.quota.{flavor}.{resource}: flavor {flavor!r} is not a gpu flavor; "
                    f"gpu flavors: {', '.join(n for n, f in flavors.items() if f.gpu) or 'none'}"
                )
    cohorts = [c.name for c in cfg.cohorts]
    if kueue.cohort is not None and kueue.cohort not in cohorts:
        problems.append(
            f"{root}.cohort: unknown cohort {kueue.cohort!r}; components.kueue.cohorts: "
            f"{', '.join(cohorts) or 'none'}"
        )
    for field, limits in (
        ("borrowingLimit", kueue.borrowing_limit),
        ("lendingLimit", kueue.lending_limit),
    ):
        if limits and kueue.cohort is None:
            problems.append(
                f"{root}.{field}: needs a cohort (limits apply to borrowing within one)"
            )
        for flavor, resources in limits.items():
            for resource, value in resources.items():
                nominal = kueue.quota.get(flavor, {}).get(resource)
                where = f"{root}.{field}.{flavor}.{resource}"
                if nominal is None:
                    problems.append(f"{where}: no nominal quota for it in kueue.quota.{flavor}")
                elif field == "lendingLimit" and _num(value) > _num(nominal):
                    problems.append(f"{where}: {value} exceeds the nominal quota {nominal}")
    priorities = [p.name for p in cfg.priority_classes]
    allowed = kueue.allowed_priorities
    for where, names in (
        ("defaultPriority", [kueue.default_priority] if kueue.default_priority else []),
        ("allowedPriorities", allowed or []),
    ):
        unknown = [n for n in names if n not in priorities]
        if unknown:
            problems.append(
                f"{root}.{where}: unknown priority class {', '.join(map(repr, unknown))}; "
                f"components.kueue.priorityClasses: {', '.join(priorities)}"
            )
    default = kueue.default_priority or cfg.default_priority_class
    if allowed is not None and default not in allowed:
        problems.append(f"{root}.allowedPriorities: must include the default priority {default!r}")
    return problems


def _num(value: str) -> Decimal:
    return parse_quantity(str(value))
