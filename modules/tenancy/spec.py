"""The tenant spec: typed, merged over `tenantDefaults`, checked against the platform.

A tenant is one entry of the `mlplatform:tenants` list. Objects merge key by key over
`platform.tenantDefaults`, lists replace. Every problem is reported at once as
`tenants[i].<path>: <what is wrong> (got <value>); <what is allowed>`.
"""

from __future__ import annotations

import importlib
import ipaddress
import pkgutil
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlplatform import kfp_pod_security, releases
from mlplatform.config.alerting import Alerting, tenant_problems
from mlplatform.config.base import (
    ConfigError,
    DnsLabel,
    DnsName,
    Email,
    LabelKey,
    LabelValue,
    Model,
    ResourceList,
    Resources,
    explain,
    problem,
    raise_all,
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
# No tenant namespace runs below `baseline`: `privileged` admits hostPath, hostNetwork and
# privileged containers, i.e. root on the node and every other tenant's data with it.
# tenantDefaults.podSecurity is bound by the same floor; a tenant may still pick any level
# at or above it (e.g. baseline where the environment's default is restricted).
POD_SECURITY_ORDER: tuple[PodSecurity, ...] = ("privileged", "baseline", "restricted")
POD_SECURITY_FLOOR: PodSecurity = "baseline"
# Namespace label prefixes that belong to Kubernetes (*.kubernetes.io, *.k8s.io: reserved for
# its core components; pod-security.kubernetes.io/* is the Pod Security level), Istio
# (istio.io/rev, istio.io/dataplane-mode switch the dataplane) and the platform itself.
RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "istio.io", "mlplatform.io")
DISPLAY_NAME_MAX = 256  # an annotation value: far below the 256 KiB per-object total


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


TenantName = Annotated[DnsLabel, AfterValidator(_tenant_name)]
QueueResource = Annotated[str, AfterValidator(_queue_resource)]
FlavorQuotas = dict[DnsLabel, dict[QueueResource, Quantity]]
Cidr = Annotated[str, AfterValidator(_cidr)]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=0)]


@cache
def platform_namespace_labels() -> frozenset[str]:
    """Every label key the platform sets on a tenant namespace or selects namespaces by
    (modules/manifests.py namespace(), tenancy/objects.py tenant_namespace(), netpol.py).

    Imported lazily: those modules import the config package, which imports this one.
    """
    from mlplatform import netpol
    from mlplatform.components import katib
    from mlplatform.manifests import MANAGED_BY, namespace
    from mlplatform.tenancy import objects

    labels = namespace("x")["metadata"]["labels"]
    return frozenset(
        {
            *labels,
            *MANAGED_BY,
            "istio-injection",
            objects.TENANT_LABEL,
            *objects.PIPELINES_LABELS,
            *objects.SERVING_LABELS,
            *netpol.OBJECT_STORE_CLIENT,
            *katib.INJECTION_LABEL,
            netpol.NS_NAME_LABEL,
        }
    )


def reserved_label_problem(key: str) -> str | None:
    """Why a tenant may not set namespace label `key`, or None."""
    prefix = key.rpartition("/")[0]
    if key in platform_namespace_labels():
        return (
            f"{key!r} is a label the platform sets on tenant namespaces (Pod Security, "
            "sidecar injection, network access); tenants cannot set or shadow it"
        )
    if any(prefix == d or prefix.endswith(f".{d}") for d in RESERVED_LABEL_DOMAINS):
        return (
            f"{key!r} uses the reserved prefix {prefix!r} "
            f"({', '.join(RESERVED_LABEL_DOMAINS)} and their subdomains belong to Kubernetes, "
            "Istio and the platform); use your own prefix such as example.com/"
        )
    return None


# Field validators, not model validators: they run even when another field of the tenant is
# invalid, so one pass reports isolation problems beside everything else.
def _at_least_floor(level: PodSecurity) -> PodSecurity:
    if POD_SECURITY_ORDER.index(level) < POD_SECURITY_ORDER.index(POD_SECURITY_FLOOR):
        raise ValueError(
            f"{level!r} is below the platform floor {POD_SECURITY_FLOOR!r} (privileged pods "
            "own the node); use baseline or restricted"
        )
    return level


def _not_reserved(labels: dict[str, str]) -> dict[str, str]:
    raise_all([((key,), why) for key in labels if (why := reserved_label_problem(key))])
    return labels


TenantPodSecurity = Annotated[PodSecurity, AfterValidator(_at_least_floor)]
TenantLabels = Annotated[dict[LabelKey, LabelValue], AfterValidator(_not_reserved)]


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

    @model_validator(mode="after")
    def _quota_needs_bucket(self) -> Storage:
        if self.quota is not None and not self.bucket:
            raise problem(
                "quota",
                f"a bucket quota ({self.quota}) with bucket: false; remove the quota or set "
                "bucket: true",
            )
        return self


class Egress(Model):
    """An egress exception: a CIDR, or a host (NetworkPolicy cannot match names: see README)."""

    cidr: Cidr | None = None
    host: DnsName | None = None
    ports: list[Port] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> Egress:
        if (self.cidr is None) == (self.host is None):
            raise problem(
                "cidr" if self.cidr is not None else "host", "set exactly one of cidr or host"
            )
        return self


class Network(Model):
    egress: list[Egress] = []


class TenantDefaults(Model):
    """`platform.tenantDefaults`: what every tenant of the environment starts from."""

    pod_security: TenantPodSecurity = "restricted"
    quota: Quota = Quota()
    container_defaults: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="128Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    kueue: KueueSettings = KueueSettings()
    storage: Storage = Storage()
    network: Network = Network()
    model_registry: bool = Field(
        False,
        description="run the team's own model registry (needs platform.components."
        "modelRegistry; costs one server pod and a database)",
    )
    labels: TenantLabels = {}


class TenantSpec(TenantDefaults):
    name: TenantName
    display_name: str = Field("", max_length=DISPLAY_NAME_MAX, pattern=r"^[^\x00-\x1f\x7f]*$")
    owners: list[Email] = Field(min_length=1)
    members: list[Member] = []
    alerting: Alerting | None = Field(
        None, description="the tenant's own receivers and routes (its namespace's alerts only)"
    )

    @field_validator("alerting")
    @classmethod
    def _own_secrets_public_targets(
        cls, value: Alerting | None, info: ValidationInfo
    ) -> Alerting | None:
        # A field validator: runs (and reports) even when another field of the tenant is bad.
        name = info.data.get("name")
        if value is not None and isinstance(name, str):
            raise_all(tenant_problems(value, name))
        return value

    @model_validator(mode="after")
    def _people_once(self) -> TenantSpec:
        people: list[tuple[tuple[str | int, ...], str]] = [
            *((("owners", i), e) for i, e in enumerate(self.owners)),
            *((("members", i, "email"), m.email) for i, m in enumerate(self.members)),
        ]
        first: dict[str, tuple[str | int, ...]] = {}
        found = []
        for where, email in people:
            key = email.lower()  # the domain is case-insensitive; mailboxes are in practice
            if key in first:
                at = _path("", first[key]).lstrip(".")
                found.append((where, f"{email!r} is already listed at {at}; list a person once"))
            first.setdefault(key, where)
        raise_all(found)
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


def template_of(raw_platform: Any) -> dict[str, Any]:
    """The tenant template of a platform object that failed validation: its tenantDefaults if
    they are valid on their own (their problems are reported under platform.), else none."""
    raw = raw_platform.get("tenantDefaults") if isinstance(raw_platform, dict) else None
    try:
        defaults = TenantDefaults.model_validate(raw or {})
    except ValidationError:
        return {}
    return defaults.model_dump(by_alias=True, exclude_unset=True)


def parse_tenants(
    raw: Any, config: PlatformConfig | None, template: dict[str, Any] | None = None
) -> list[TenantSpec]:
    """Validate `mlplatform:tenants` against `config`; raise ConfigError listing every problem.

    Without `config` (the platform object is itself invalid) only the tenants' own rules are
    checked, over `template`, so that one pass still reports every tenant problem it can.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError([f"tenants: must be a list of tenants (got {type(raw).__name__})"])
    if template is None:
        template = (
            config.tenant_defaults.model_dump(by_alias=True, exclude_unset=True) if config else {}
        )
    problems: list[str] = []
    tenants: list[TenantSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        root = f"tenants[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{root}: must be an object (got {type(entry).__name__})")
            continue
        name = entry.get("name")
        if isinstance(name, str) and name in seen:  # checked even if the entry is invalid
            problems.append(
                f"{root}.name: {name!r} is already tenants[{seen[name]}]; tenant names are "
                "unique (rename one or merge the two entries)"
            )
        elif isinstance(name, str):
            seen[name] = i
        try:
            tenant = TenantSpec.model_validate(_merge_entry(template, entry))
        except ValidationError as err:
            problems.extend(explain(err, root, path=_path))
            continue
        if config is not None:
            problems.extend(platform_problems(tenant, config, root))
        tenants.append(tenant)
    if problems:
        raise ConfigError(problems)
    return tenants


def _merge_entry(template: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` over `template`; a tenant that turns its bucket off does not inherit the
    template's bucket quota (that would contradict its own choice)."""
    merged = merge(template, entry)
    storage = entry.get("storage")
    if isinstance(storage, dict) and storage.get("bucket") is False and "quota" not in storage:
        merged["storage"] = {k: v for k, v in merged["storage"].items() if k != "quota"}
    return merged


# Namespace ResourceQuota field -> the Kueue resource it caps.
_NAMESPACE_CAPS = {"cpu": "cpu", "memory": "memory", "gpu": GPU_RESOURCE, "pods": "pods"}


def quota_warnings(tenant: TenantSpec, root: str) -> list[str]:
    """Kueue nominal quota (summed over flavors) above the namespace ResourceQuota.

    A warning, not an error: the namespace quota still caps what runs, so isolation holds;
    the excess is only unusable (Kueue admits workloads whose pods the ResourceQuota then
    refuses, and they hold queue quota until waitForPodsReady evicts them).
    """
    warnings = []
    for field, resource in _NAMESPACE_CAPS.items():
        cap = getattr(tenant.quota, field)
        shares = {f: r[resource] for f, r in tenant.kueue.quota.items() if resource in r}
        if cap is None or not shares:
            continue
        total = sum((_num(v) for v in shares.values()), Decimal(0))
        if total > _num(cap):
            by_flavor = ", ".join(f"{f}: {v}" for f, v in shares.items())
            warnings.append(
                f"{root}.quota.{field}: the namespace quota {cap} is below the Kueue nominal "
                f"{resource} quota {_fmt(total)} (summed over flavors: {by_flavor}); raise "
                f"quota.{field} or lower kueue.quota, or admitted workloads will not fit in the "
                "namespace"
            )
    return warnings


def pipelines_warnings(tenant: TenantSpec, config: PlatformConfig, root: str) -> list[str]:
    """`restricted` where no KFP run pod at the pinned version can pass it.

    A warning, not an error: the namespace isolates as asked; the team only cannot run
    pipelines (facts and sources: mlplatform.kfp_pod_security).
    """
    if tenant.pod_security != "restricted" or not config.components.pipelines.enabled:
        return []
    version = releases.load(config.release).component("kfp").version
    blocker = kfp_pod_security.restricted(version).blocker
    if blocker is None:
        return []
    return [
        f"{root}.podSecurity: restricted refuses every KFP {version} pipeline pod ({blocker}); "
        "set podSecurity: baseline for a team that runs pipelines"
    ]


def _fmt(value: Decimal) -> str:
    for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if value >= factor and value % factor == 0:
            return f"{value // factor}{suffix}"
    return format(value.normalize(), "f")


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
    if tenant.alerting and not components.monitoring.enabled:
        problems.append(f"{root}.alerting: needs components.monitoring.enabled (Alertmanager)")
    if tenant.model_registry and not components.model_registry.enabled:
        problems.append(
            f"{root}.modelRegistry: needs platform.components.modelRegistry.enabled (its database)"
        )
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
