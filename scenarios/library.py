"""The scenario library: what each conformance scenario creates, expects, and waits for.

A `Scenario` is data plus a `build(target) -> Plan` function. The plan holds every
manifest for the target release (tested offline for schema, labels, security context and
resources) and the ordered steps the runner executes against a cluster, each with its
expected outcome. Scenarios live one per module under `scenarios/catalog/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mlplatform.components import istio, kueue, minio, monitoring, serving
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.components.training import TRAINER_NAMESPACE
from mlplatform.manifests import Obj
from mlplatform.releases import ComponentName, Release
from mlplatform.scenarios import requirements
from mlplatform.scenarios.artifacts import Controller
from mlplatform.scenarios.http import Http, UrllibHttp
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.manifests.tenancy import Flavor, ScenarioTenant

if TYPE_CHECKING:
    from mlplatform.scenarios.session import Session


@dataclass(frozen=True)
class Endpoints:
    """Where platform services live; defaults match the platform's own components."""

    minio_endpoint: str = minio.ENDPOINT
    minio_namespace: str = minio.NAMESPACE
    minio_secret: str = minio.ROOT_SECRET  # keys rootUser / rootPassword
    model_bucket: str = "models"
    kfp_namespace: str = KUBEFLOW
    kfp_host: str = f"http://ml-pipeline.{KUBEFLOW}.svc.cluster.local:8888"
    kfp_ports: tuple[int, ...] = (8888, 8887, 8080)  # API HTTP, API gRPC, metadata gRPC
    # kube-prometheus-stack's Prometheus Service `<fullname>-prometheus`, port `http-web`
    # (templates/prometheus/service.yaml, values prometheusSpec.portName, charts 70.4.2-82.4.0;
    # monitoring.py sets fullnameOverride "kps"), reached through the API server's proxy.
    prometheus_namespace: str = monitoring.NAMESPACE
    prometheus_service: str = "kps-prometheus:http-web"
    # The platform gateway from where the runner is: dev's domain on kind's host port
    # (modules/cluster/toolchain.yaml host_ports.https); its TLS Secret's `ca.crt` (cert-manager
    # CA issuer) is what clients verify against (istio.py Certificate `mlplatform-ingress`).
    gateway_url: str = "https://mlplatform.localtest.me:8443"
    gateway_tls: tuple[str, str] = (istio.NAMESPACE, "mlplatform-ingress-tls")
    controllers: dict[str, Controller] = field(
        default_factory=lambda: {
            "kueue": Controller("kueue", kueue.NAMESPACE, {"control-plane": "controller-manager"}),
            "training_operator": Controller(
                "training_operator", KUBEFLOW, {"control-plane": "kubeflow-training-operator"}
            ),
            "trainer": Controller("trainer", TRAINER_NAMESPACE, {}),
            "kserve": Controller("kserve", serving.NAMESPACE, serving.CONTROLLER_LABELS),
            "kfp": Controller("kfp", KUBEFLOW, {"app": "ml-pipeline"}),
        }
    )


@dataclass(frozen=True)
class Target:
    release: Release
    images: Images
    run_id: str  # short, DNS-safe; makes every generated name unique
    endpoints: Endpoints = Endpoints()
    serving_mode: Literal["standard", "knative"] = "standard"
    # Static users' passwords (email -> password: `mlplatform status --show-passwords`), for
    # scenarios that log in at the gateway; the HTTP client they reach it with.
    users: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    http: Http = field(default_factory=UrllibHttp, repr=False, compare=False)

    def namespace(self, scenario: str, suffix: str = "") -> str:
        name = f"scn-{scenario}-{self.run_id}" + (f"-{suffix}" if suffix else "")
        return name[:63].rstrip("-")

    def flavor(self, scenario: str, node_labels: dict[str, str] | None = None) -> Flavor:
        return Flavor(self.namespace(scenario, "flavor"), node_labels or {})


class NotApplicable(Exception):
    """Raised by a step whose check does not apply to this cluster (e.g. no real GPU): the
    step is skipped with the reason and the requirements it proves count as not applicable."""


@dataclass(frozen=True)
class Step:
    name: str
    expect: str  # the expected outcome, as the report shows it
    run: Callable[[Session], None]
    proves: tuple[str, ...] = ()  # AI-conformance requirement ids (requirements.py)

    def __post_init__(self) -> None:
        known = requirements.catalogue().requirements
        if unknown := [r for r in self.proves if r not in known]:
            raise ValueError(f"step {self.name!r} proves unknown requirements {unknown}")


@dataclass
class Plan:
    """One scenario built for one target."""

    tenants: list[ScenarioTenant]
    cluster_objects: list[Obj]  # flavors, priority classes: cluster-scoped, deleted after
    objects: list[Obj]  # what the steps create, for offline checks and failure dumps
    steps: list[Step]
    controllers: list[ComponentName]

    def manifests(self, release: Release) -> list[Obj]:
        tenancy = [o for t in self.tenants for o in t.objects(release)]
        return [*self.cluster_objects, *tenancy, *self.objects]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    requires: tuple[ComponentName, ...]
    build: Callable[[Target], Plan]

    def unsupported(self, release: Release) -> str | None:
        """Why this scenario cannot run on `release`, or None."""
        missing = [c for c in self.requires if not release.has(c)]
        return f"release {release.release} ships no {', '.join(missing)}" if missing else None


def proofs(scenario: str, steps: list[Step]) -> list[requirements.Proof]:
    return [requirements.Proof(r, scenario, s.name) for s in steps for r in s.proves]


def declared(
    release: Release, kubernetes: str
) -> tuple[dict[str, list[str]], dict[str, requirements.Coverage]]:
    """What each scenario's steps prove on `release` (building every plan), and the coverage
    of `kubernetes`'s checklist by them: what a fully passing run would show."""
    target = Target(release, Images.for_release(release), "cov000")
    by_scenario: dict[str, list[str]] = {}
    found: list[requirements.Proof] = []
    for sc in scenarios().values():
        if sc.unsupported(release):
            by_scenario[sc.name] = []
            continue
        mine = proofs(sc.name, sc.build(target).steps)
        by_scenario[sc.name] = sorted({p.requirement for p in mine})
        found += mine
    return by_scenario, requirements.coverage(requirements.checklist(kubernetes), found)


def scenarios() -> dict[str, Scenario]:
    """Every runnable scenario by name, in run order."""
    from mlplatform.scenarios.catalog import ALL

    return {s.name: s for s in ALL}
