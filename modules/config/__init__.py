"""Typed stack configuration: the whole `mlplatform:platform` object as validated models.

Keys are camelCase in the stack files and snake_case here. Unknown keys are errors. Every
problem is reported at once, each naming its field path, the bad value and what is allowed,
before a single resource is registered.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from mlplatform import releases
from mlplatform.config.alerting import Alerting
from mlplatform.config.base import (
    ConfigError,
    DnsLabel,
    DnsName,
    Duration,
    Email,
    HttpsUrl,
    Model,
    Registry,
    Replicas,
    ResourceList,
    Resources,
    explain,
    problem,
    raise_all,
    url_check,
)
from mlplatform.config.conformance import Conformance
from mlplatform.config.gpu import Gpu
from mlplatform.config.katib import Katib
from mlplatform.config.kubeflow_apps import Dashboard, Notebooks
from mlplatform.config.kueue import Kueue
from mlplatform.config.logging import Logging
from mlplatform.config.metrics_server import MetricsServer
from mlplatform.config.model_registry import ModelRegistry
from mlplatform.config.pipelines import Pipelines
from mlplatform.config.serving import Serving
from mlplatform.config.training import Training
from mlplatform.quantity import PositiveQuantity
from mlplatform.tenancy.spec import TenantDefaults


class ClusterAccess(Model):
    kubeconfig: str | None = Field(None, description="path; default: the KUBECONFIG env var")
    context: str | None = None


_MIRRORED = "charts and manifests from it run with cluster-admin rights"
MirrorCharts = Annotated[str, url_check(("https", "oci"), _MIRRORED)]
MirrorFiles = Annotated[str, url_check(("https",), _MIRRORED)]


class Mirror(Model):
    """Air-gap: every image and chart source is redirected here."""

    registry: Registry
    # https (or oci://, TLS by default) only: what these serve is installed with cluster-admin
    # rights, so a plain-http mirror lets anyone on the path swap a chart or a manifest.
    charts: MirrorCharts | None = Field(
        None, description="Helm repo URL or oci:// prefix for all charts"
    )
    files: MirrorFiles | None = Field(
        None, description="https base URL mirroring release manifests"
    )


class Acme(Model):
    server: HttpsUrl = "https://acme-v02.api.letsencrypt.org/directory"  # RFC 8555: https
    email: Email


class Tls(Model):
    issuer: Literal["selfSigned", "acme", "existing"] = "selfSigned"
    acme: Acme | None = None
    existing_cluster_issuer: DnsName | None = None

    @model_validator(mode="after")
    def _issuer_settings(self) -> Tls:
        if self.issuer == "acme" and self.acme is None:
            raise problem("acme", "issuer 'acme' needs an acme block with at least email")
        if self.issuer == "existing" and not self.existing_cluster_issuer:
            raise problem(
                "existingClusterIssuer",
                "issuer 'existing' needs existingClusterIssuer (the issuer's name)",
            )
        return self


class Ingress(Model):
    domain: DnsName
    tls: Tls = Tls()


class StaticUser(Model):
    email: Email
    username: DnsLabel


class OidcConnector(Model):
    name: str = Field("Corporate SSO", min_length=1, max_length=100)
    issuer: HttpsUrl  # Dex fetches its discovery document and keys over it
    client_id: str = Field(min_length=1, max_length=255)
    client_secret_key: str = Field(
        "oidcClientSecret", description="secret stack config key holding the client secret"
    )


class Identity(Model):
    static_users: list[StaticUser] = []
    oidc: OidcConnector | None = None
    dex_replicas: Replicas = 1
    oauth2_proxy_replicas: Replicas = 1

    @model_validator(mode="after")
    def _someone_can_log_in(self) -> Identity:
        if not self.static_users and self.oidc is None:
            raise problem(
                "staticUsers",
                "set staticUsers (dev) or an oidc connector (prod); nobody can log in",
            )
        found = []
        for field in ("email", "username"):
            first: dict[str, int] = {}
            for i, user in enumerate(self.static_users):
                value = getattr(user, field)
                if value in first:
                    found.append(
                        (
                            ("staticUsers", i, field),
                            f"staticUsers repeat {value!r} (also staticUsers.{first[value]}); "
                            f"each {field} once",
                        )
                    )
                first.setdefault(value, i)
        raise_all(found)
        return self


# --- components ----------------------------------------------------------------------


class Toggle(Model):
    enabled: bool = True


class CertManager(Toggle):
    replicas: Replicas = 1
    resources: Resources = Resources()


NodePort = Annotated[int, Field(ge=30000, le=32767)]


class GatewayNodePorts(Model):
    """Fixed NodePorts of the ingress gateway, so a kind cluster can map them to the host."""

    http: NodePort = 30080
    https: NodePort = 30443

    @model_validator(mode="after")
    def _distinct(self) -> GatewayNodePorts:
        if self.http == self.https:
            raise problem("https", f"http and https must differ (both {self.http})")
        return self


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"{value!r} must be an absolute node path such as /opt/cni/bin")
    return value


NodePath = Annotated[str, AfterValidator(_absolute_path)]


class IstioCni(Model):
    """The Istio CNI node agent (modules/components/istio_cni.py). The directories are the
    node's CNI plugin binaries and network config: the chart's defaults (istio/istio
    manifests/charts/istio-cni/values.yaml, 1.28.0 and 1.29.1), which kind's kindnet and most
    clusters use; GKE's nodes keep the binaries in /home/kubernetes/bin
    (templates/daemonset.yaml `$detectedBinDir`)."""

    bin_dir: NodePath = "/opt/cni/bin"
    conf_dir: NodePath = "/etc/cni/net.d"
    # The chart's requests (values.yaml `resources`), bounded.
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="100Mi"),
        limits=ResourceList(cpu="500m", memory="256Mi"),
    )


class Istio(Toggle):
    pilot_replicas: Replicas = 1
    gateway_replicas: Replicas = 1
    gateway_service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "NodePort"
    gateway_node_ports: GatewayNodePorts | None = None
    resources: Resources = Resources()
    cni: IstioCni = IstioCni()

    @model_validator(mode="after")
    def _node_ports_need_node_port_service(self) -> Istio:
        if self.gateway_node_ports and self.gateway_service_type != "NodePort":
            raise problem(
                "gatewayNodePorts",
                f"gatewayNodePorts needs gatewayServiceType NodePort "
                f"(got {self.gateway_service_type})",
            )
        return self


class Minio(Toggle):
    mode: Literal["standalone", "distributed"] = "standalone"
    replicas: Replicas = 1
    storage: PositiveQuantity = "10Gi"
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )

    @model_validator(mode="after")
    def _mode_replicas(self) -> Minio:
        if self.mode == "standalone" and self.replicas != 1:
            raise problem(
                "replicas",
                f"standalone mode runs exactly 1 replica (got {self.replicas}); set replicas: 1 "
                "or mode: distributed",
            )
        if self.mode == "distributed" and self.replicas < 4:
            raise problem(
                "replicas", f"distributed mode needs at least 4 replicas (got {self.replicas})"
            )
        return self


class Monitoring(Toggle):
    prometheus_replicas: Replicas = 1
    alertmanager_replicas: Replicas = 1
    retention: Duration = "2d"
    storage: PositiveQuantity = "10Gi"
    grafana: bool = True
    resources: Resources = Resources(  # each Prometheus replica
        requests=ResourceList(cpu="200m", memory="512Mi"),
        limits=ResourceList(cpu="2", memory="2Gi"),
    )
    # The rest is small by default (a few series, a few objects); raise with the cluster size.
    alertmanager_resources: Resources = Resources(
        requests=ResourceList(cpu="10m", memory="32Mi"),
        limits=ResourceList(cpu="200m", memory="128Mi"),
    )
    operator_resources: Resources = Resources(
        requests=ResourceList(cpu="10m", memory="64Mi"),
        limits=ResourceList(cpu="200m", memory="256Mi"),
    )
    kube_state_metrics_resources: Resources = Resources(
        requests=ResourceList(cpu="10m", memory="64Mi"),
        limits=ResourceList(cpu="200m", memory="256Mi"),
    )
    node_exporter_resources: Resources = Resources(  # per node
        requests=ResourceList(cpu="10m", memory="32Mi"),
        limits=ResourceList(cpu="200m", memory="64Mi"),
    )
    grafana_resources: Resources = Resources(
        requests=ResourceList(cpu="50m", memory="128Mi"),
        limits=ResourceList(cpu="500m", memory="512Mi"),
    )


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR such as 10.0.0.10/32") from None
    return value


class Network(Model):
    api_server_cidrs: list[Annotated[str, AfterValidator(_cidr)]] = Field(
        [],
        description="API server endpoint CIDRs (`kubectl get endpoints kubernetes`); with them "
        "the API-server egress every namespace gets is pinned to those addresses, without "
        "them only to ports 443/6443",
    )


class Components(Model):
    cert_manager: CertManager = CertManager()
    istio: Istio = Istio()
    minio: Minio = Minio()
    monitoring: Monitoring = Monitoring()
    metrics_server: MetricsServer = MetricsServer()
    logging: Logging = Logging()
    pipelines: Pipelines = Pipelines()
    dashboard: Dashboard = Dashboard()
    notebooks: Notebooks = Notebooks()
    serving: Serving = Serving()
    gpu: Gpu = Gpu()
    kueue: Kueue = Kueue()
    training: Training = Training()
    katib: Katib = Katib()
    model_registry: ModelRegistry = ModelRegistry()
    conformance: Conformance = Conformance()


# --- the stack ------------------------------------------------------------------------


def _known_release(name: str) -> str:
    if name not in releases.available():
        raise ValueError(f"{name!r} is not in the catalogue; choose one of {releases.available()}")
    return name


class PlatformConfig(Model):
    environment: DnsLabel
    release: Annotated[str, AfterValidator(_known_release)]
    kubernetes_version: Annotated[str, Field(pattern=r"^1\.[0-9]{2}$")]
    cluster: ClusterAccess = ClusterAccess()
    mirror: Mirror | None = None
    upstream_cache: str | None = Field(
        None,
        description="directory of an upstream cache (`mlplatform upstream pull`): charts, "
        "kustomize trees and manifests are read from it instead of the network",
    )
    ingress: Ingress
    identity: Identity
    components: Components = Components()
    network: Network = Network()
    alerting: Alerting = Field(
        Alerting(), description="alert receivers and routes (README: Alerts and receivers)"
    )
    high_availability: bool = Field(
        False, description="PodDisruptionBudgets and anti-affinity where charts support them"
    )
    tenant_defaults: TenantDefaults = Field(
        TenantDefaults(), description="template every `mlplatform:tenants` entry starts from"
    )

    @model_validator(mode="after")
    def _fits_release(self) -> PlatformConfig:
        supported = releases.load(self.release).kubernetes
        if not supported.contains(self.kubernetes_version):
            raise problem(
                "kubernetesVersion",
                f"kubernetesVersion {self.kubernetes_version} is outside release {self.release}'s "
                f"supported range {supported.min}-{supported.max}",
            )
        return self

    @model_validator(mode="after")
    def _training_fits_release(self) -> PlatformConfig:
        why = self.components.training.release_problem(self.release)
        if why:
            raise problem(
                "components.training.trainer", why.removeprefix("components.training.trainer: ")
            )
        return self

    @model_validator(mode="after")
    def _receivers_need_monitoring(self) -> PlatformConfig:
        if self.alerting.receivers and not self.components.monitoring.enabled:
            raise problem(
                "alerting.receivers",
                "receivers need the Alertmanager: set components.monitoring.enabled: true or "
                "remove them",
            )
        return self

    @model_validator(mode="after")
    def _ha_means_replicas(self) -> PlatformConfig:
        if not self.high_availability:
            return self
        raise_all(
            [
                (
                    tuple(path.split(".")),
                    f"highAvailability needs at least 2 replicas (got {n}; a PDB on 1 replica "
                    "blocks node drains); raise it to 2 or set highAvailability: false",
                )
                for path, n in self.replica_counts().items()
                if n < 2
            ]
        )
        return self

    def replica_counts(self) -> dict[str, int]:
        """Config path -> replicas of every enabled, replicated platform deployment."""
        counts: dict[str, int] = {}
        for name, component in self.components:
            if not getattr(component, "enabled", True):
                continue
            for field, value in component:
                if field.endswith("replicas") and isinstance(value, int):
                    counts[f"components.{to_camel(name)}.{to_camel(field)}"] = value
        for field in ("dex_replicas", "oauth2_proxy_replicas"):
            counts[f"identity.{to_camel(field)}"] = getattr(self.identity, field)
        if self.components.minio.mode == "standalone":
            counts.pop("components.minio.replicas", None)
        return counts

    @property
    def catalogue(self) -> releases.Release:
        return releases.load(self.release)


def parse_platform(raw: Any) -> PlatformConfig:
    """Validate the `mlplatform:platform` object; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError([f"platform: must be an object (got {type(raw).__name__})"])
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(explain(err, "platform", PlatformConfig)) from None
