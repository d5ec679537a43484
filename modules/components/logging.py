"""Logging: Loki (one tenant per namespace), Alloy collecting pod logs, events and audit.

Loki runs as one single-binary StatefulSet (grafana/loki production/helm/loki, `deploymentMode:
SingleBinary`) with `auth_enabled`: every push and query names its tenant in X-Scope-OrgID, and
a tenant is a Kubernetes namespace, so one team's logs are one Loki tenant. What the chart
would leave to Helm hooks or extra pods is off: its `helm test` Pod (`test.enabled`), the
loki-canary DaemonSet, the nginx gateway (nothing outside Alloy, Grafana and Prometheus may
reach Loki), the memcached chunks/results caches, the rules sidecar, self-monitoring and the
MinIO subchart (the platform MinIO holds Loki's data where `store: minio`, through a MinIO user
allowed only the bucket `loki`, made by the same `mc` Job as every other user).

Alloy (grafana/alloy operations/helm/charts/alloy) runs twice from the same chart:
- `alloy`, a DaemonSet reading every container's log file under the node's /var/log (and, with
  `audit`, the API server's audit log on control-plane nodes): it needs a hostPath, so it lives
  alone in the privileged namespace `log-collector`, runs as root (the kubelet writes pod logs
  root-owned, mode 0640) with every capability dropped and a read-only /var/log;
- `alloy-events`, one non-root replica turning Kubernetes Events into log lines (a DaemonSet
  would ship every Event once per node).
Pod logs and Events go to the tenant named by their namespace (`stage.tenant`, label
`namespace`, which only Alloy sets: from the pod's namespace, or the Event's involved object,
whose namespace the API server requires to equal the Event's own); Events of cluster-scoped
objects go to CLUSTER_TENANT (the write's default `tenant_id`), audit to AUDIT_TENANT.

Grafana gets Loki datasources through the kps Grafana sidecar (ConfigMaps labelled
`grafana_datasource: "1"` in `monitoring`: kube-prometheus-stack values
`grafana.sidecar.datasources`, tags 70.4.2, 79.12.0, 82.4.0). They are for platform admins:
Grafana OSS lets every user of an organization query every datasource in it (datasource
permissions are Grafana Enterprise/Cloud only), so the platform provisions no per-team
datasource; teams read their own logs and events with `kubectl logs` / `kubectl get events`,
which their namespace RBAC already confines (README: Logs, events and audit).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, minio_users, netpol
from mlplatform.cluster.kind import AUDIT_LOG_DIR
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import minio, monitoring

NAMESPACE = "logging"  # Loki (restricted)
COLLECTOR_NAMESPACE = "log-collector"  # the Alloy DaemonSet (privileged: hostPath /var/log)
LOKI = "loki"
LOKI_PORT = 3100
LOKI_PODS = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "single-binary"}
LOKI_URL = f"http://{LOKI}.{NAMESPACE}.svc.cluster.local:{LOKI_PORT}"
ALLOY = "alloy"
EVENTS = "alloy-events"
ALLOY_PORT = 12345
ALLOY_PODS = {"app.kubernetes.io/name": "alloy"}
GRAFANA_PODS = {"app.kubernetes.io/name": "grafana"}
AUDIT_TENANT = "platform-audit"
CLUSTER_TENANT = "platform-cluster"
# Loki's data in the platform MinIO (store: minio).
BUCKET = "loki"
MINIO_USER = "loki"
USER_KEYS = "loki-user-keys"  # in `minio`, read by the user Job
OBJECT_STORE_SECRET = "loki-object-store"  # in `logging`, read by Loki as env
DATASOURCES = "loki-datasources"
DATASOURCE_LABEL = {"grafana_datasource": "1"}
# Alloy's positions (read offsets) survive container restarts in an emptyDir.
ALLOY_DATA = "/tmp/alloy"
# Loki's schema: TSDB index v13, from the day this platform first shipped logging.
SCHEMA_FROM = "2025-01-01"
# The config-reloader sidecar of each Alloy pod (the chart sets requests only).
RELOADER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
ALLOY_UID = 473  # the `alloy` user of the grafana/alloy image (Dockerfile ARG UID)
NON_ROOT_POD = {
    "runAsNonRoot": True,
    "runAsUser": ALLOY_UID,
    "runAsGroup": ALLOY_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


class Logging(PlatformComponent):
    """Outputs `loki` (the in-cluster push/query URL)."""

    def __init__(
        self,
        ctx: Context,
        platform_namespaces: Iterable[str] = (),
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        """`platform_namespaces`: the platform's own namespaces, whose logs the admins'
        datasource queries (each is its own Loki tenant)."""
        super().__init__("logging:Logging", "logging", ctx, depends_on)
        cfg = ctx.config.components.logging
        on_minio = cfg.store == "minio"
        mon = ctx.config.components.monitoring
        objs = [
            manifests.namespace(
                NAMESPACE, labels=dict(netpol.OBJECT_STORE_CLIENT) if on_minio else None
            ),
            manifests.namespace(COLLECTOR_NAMESPACE, "privileged"),
            *network_policies(ctx.config.network.api_server_cidrs, on_minio),
            *collector_roles(),
        ]
        if on_minio:
            objs += self._object_store_user()
        if mon.enabled and mon.grafana:
            objs.append(datasources(platform_namespaces, cfg.audit))
        base = self.objects("logging-base", objs)
        self.loki = self.chart(
            LOKI, "loki", NAMESPACE, loki_values(ctx), depends_on=[base], skip_crds=True
        )
        self.alloy = self.chart(
            ALLOY,
            "alloy",
            COLLECTOR_NAMESPACE,
            alloy_values(ctx, alloy_config(audit=cfg.audit)),
            depends_on=[base, self.loki],
            skip_crds=True,
        )
        self.events = self.chart(
            EVENTS,
            "alloy",
            COLLECTOR_NAMESPACE,
            events_values(ctx, events_config()),
            depends_on=[base, self.loki],
            skip_crds=True,
        )
        if mon.enabled:
            self.monitors = self.objects(
                "logging-monitors", service_monitors(), [self.loki, self.alloy, self.events]
            )
        self.url = pulumi.Output.from_input(LOKI_URL)
        self.register_outputs({"loki": self.url})

    def _object_store_user(self) -> list[manifests.Obj]:
        """Loki's MinIO user (only bucket `loki`) and its keys, as Pulumi secrets."""
        keys = {
            minio_users.ACCESS_KEY: pulumi.Output.secret(MINIO_USER),
            minio_users.SECRET_KEY: self.password("loki-minio-secret-key", 40),
        }
        return [
            manifests.secret(OBJECT_STORE_SECRET, NAMESPACE, keys),
            minio_users.keys_secret(USER_KEYS, keys),
            minio_users.user_job(
                "loki-bucket",
                BUCKET,
                MINIO_USER,
                USER_KEYS,
                self.ctx.component("minio").images["mc"],
                "logging-storage",
            ),
        ]


# --- Loki ------------------------------------------------------------------------------


def loki_values(ctx: Context) -> dict[str, Any]:
    """Single binary, multi-tenant, retention by the compactor; no hook, cache or gateway."""
    cfg = ctx.config.components.logging
    on_minio = cfg.store == "minio"
    store = "s3" if on_minio else "filesystem"
    storage: dict[str, Any] = {"type": "filesystem"}
    single_binary: dict[str, Any] = {
        "replicas": 1,
        "resources": cfg.loki_resources.as_k8s(),
        "persistence": {"size": str(cfg.storage)},
    }
    if on_minio:
        # No keys in the config: Loki's S3 client falls back to the AWS SDK's default chain,
        # which reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the env, here from our Secret
        # (grafana/loki pkg/storage/chunk/client/aws/s3_storage_client.go buildS3Client:
        # session.NewSession at v3.4.2 and v3.5.7, v2config.LoadDefaultConfig at v3.6.5).
        storage = {
            "type": "s3",
            "bucketNames": {"chunks": BUCKET, "ruler": BUCKET, "admin": BUCKET},
            "s3": {"endpoint": minio.ENDPOINT, "s3ForcePathStyle": True, "insecure": True},
        }
        single_binary["extraEnvFrom"] = [{"secretRef": {"name": OBJECT_STORE_SECRET}}]
    return {
        "deploymentMode": "SingleBinary",
        "fullnameOverride": LOKI,
        "loki": {
            "auth_enabled": True,
            "storage": storage,
            "schemaConfig": {
                "configs": [
                    {
                        "from": SCHEMA_FROM,
                        "store": "tsdb",
                        "object_store": store,
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            # Merged over the chart's generated config (templates/_helpers.tpl `mergeOverwrite`
            # of loki.config and loki.structuredConfig): the one way every pinned chart reads,
            # where loki.config's own inputs (commonConfig, limits_config, ...) are read only
            # by the values.yaml template string.
            "structuredConfig": {
                "common": {"replication_factor": 1},
                "limits_config": {"retention_period": cfg.retention},
                "compactor": {
                    "retention_enabled": True,
                    "delete_request_store": store,
                    "working_directory": "/var/loki/compactor",
                },
                # Admins query several tenants at once (X-Scope-OrgID `a|b`).
                "querier": {"multi_tenant_queries_enabled": True},
            },
            "podSecurityContext": {
                "fsGroup": 10001,
                "runAsGroup": 10001,
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "singleBinary": single_binary,
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
        "gateway": {"enabled": False},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
        "sidecar": {"rules": {"enabled": False}},
        "monitoring": {
            "selfMonitoring": {"enabled": False, "grafanaAgent": {"installOperator": False}},
            "serviceMonitor": {"enabled": False},  # ours (service_monitors): no CRD probe
            "dashboards": {"enabled": False},
            "rules": {"enabled": False},
        },
    }


# --- Alloy -----------------------------------------------------------------------------


def alloy_config(audit: bool) -> str:
    """The DaemonSet's Alloy config: this node's pod log files, tenant = the pod's namespace;
    with `audit`, the API server's audit log (on control-plane nodes) to AUDIT_TENANT."""
    text = """// Pod logs: every container log file of the pods on this node (HOSTNAME: the node).
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + sys.env("HOSTNAME")
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    replacement   = "/var/log/pods/*$1/*.log"
    target_label  = "__path__"
  }
}

local.file_match "pods" {
  path_targets = discovery.relabel.pods.output
}

loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}

// Tenant = namespace: one team's logs are one Loki tenant.
loki.process "pods" {
  stage.cri {}
  stage.tenant {
    label = "namespace"
  }
  forward_to = [loki.write.loki.receiver]
}
"""
    if audit:
        text += f"""
// API server audit log (control-plane nodes; other nodes have no such file).
local.file_match "audit" {{
  path_targets = [{{"__path__" = "{AUDIT_LOG_DIR}/*.log", "job" = "audit"}}]
}}

loki.source.file "audit" {{
  targets    = local.file_match.audit.targets
  forward_to = [loki.process.audit.receiver]
}}

loki.process "audit" {{
  stage.tenant {{
    value = "{AUDIT_TENANT}"
  }}
  forward_to = [loki.write.loki.receiver]
}}
"""
    return text + _write()


def events_config() -> str:
    """The events Deployment's Alloy config: Events to the tenant of their namespace."""
    return """// Kubernetes Events, cluster-wide; label namespace: the involved object's.
loki.source.kubernetes_events "events" {
  job_name   = "kubernetes-events"
  log_format = "json"
  forward_to = [loki.process.events.receiver]
}

// Tenant = namespace; Events of cluster-scoped objects (empty namespace) keep the default.
loki.process "events" {
  stage.tenant {
    label = "namespace"
  }
  forward_to = [loki.write.loki.receiver]
}
""" + _write()


def _write() -> str:
    return f"""
// Entries without a tenant (cluster-scoped Events) go to {CLUSTER_TENANT}.
loki.write "loki" {{
  endpoint {{
    url = "{LOKI_URL}/loki/api/v1/push"
  }}
  external_labels = {{"cluster" = sys.env("CLUSTER")}}
  tenant_id = "{CLUSTER_TENANT}"
}}
"""


def _alloy_common(ctx: Context, content: str) -> dict[str, Any]:
    cfg = ctx.config.components.logging
    return {
        "crds": {"create": False},  # PodLogs (monitoring.grafana.com): not used
        "alloy": {
            "configMap": {"content": content},
            "enableReporting": False,  # no usage reports (and no egress for them)
            "resources": cfg.alloy_resources.as_k8s(),
            "extraEnv": [{"name": "CLUSTER", "value": ctx.config.environment}],
            "mounts": {"extra": [{"name": "data", "mountPath": ALLOY_DATA}]},
        },
        "controller": {"volumes": {"extra": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}]}},
        "configReloader": {"resources": RELOADER_RESOURCES, "securityContext": RESTRICTED},
        "serviceMonitor": {"enabled": False},  # ours (service_monitors)
    }


def alloy_values(ctx: Context, content: str) -> dict[str, Any]:
    """The log-file DaemonSet: root (pod logs are root-owned 0640), no capability, /var/log
    read-only, on every node (control-plane and GPU nodes included)."""
    values = _alloy_common(ctx, content)
    values["fullnameOverride"] = ALLOY
    values["alloy"]["mounts"]["varlog"] = True
    values["alloy"]["securityContext"] = {
        **RESTRICTED,
        "runAsUser": 0,
        "runAsGroup": 0,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    values["controller"] |= {
        "type": "daemonset",
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
    }
    values["rbac"] = {"create": False}  # ours: collector_roles()
    return values


def events_values(ctx: Context, content: str) -> dict[str, Any]:
    """One non-root replica watching Events (restricted Pod Security compliant)."""
    values = _alloy_common(ctx, content)
    values["fullnameOverride"] = EVENTS
    values["alloy"]["securityContext"] = RESTRICTED
    values["global"] = {"podSecurityContext": NON_ROOT_POD}
    values["controller"] |= {"type": "deployment", "replicas": 1}
    values["rbac"] = {"create": False}  # ours: collector_roles()
    return values


def collector_roles() -> list[manifests.Obj]:
    """Each Alloy release reads exactly what its config watches: pods (the DaemonSet's
    discovery) or Events. The chart's own ClusterRole also reads Secrets and ConfigMaps
    cluster-wide, and before chart 1.4.0 its rules are fixed in the template (no `rbac.rules`
    value: grafana/alloy helm-chart/0.12.6 templates/rbac.yaml, PR #3869), so `rbac.create` is
    off and these are ours, bound to the ServiceAccount the chart names after the release."""
    objs = []
    for release, resource in ((ALLOY, "pods"), (EVENTS, "events")):
        name = f"{COLLECTOR_NAMESPACE}-{release}"
        objs += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": manifests.meta(name),
                "rules": [
                    {"apiGroups": [""], "resources": [resource], "verbs": ["get", "list", "watch"]}
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": manifests.meta(name),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": release, "namespace": COLLECTOR_NAMESPACE}
                ],
            },
        ]
    return objs


# --- network, Grafana, Prometheus ----------------------------------------------------


def network_policies(api_server_cidrs: Sequence[str], on_minio: bool) -> list[manifests.Obj]:
    """Loki admits Alloy (push), Grafana (query) and Prometheus (scrape), nothing else."""
    alloy = netpol.peer(COLLECTOR_NAMESPACE, ALLOY_PODS)
    grafana = netpol.peer(monitoring.NAMESPACE, GRAFANA_PODS)
    loki = netpol.peer(NAMESPACE, LOKI_PODS)
    objs = [
        *netpol.baseline(NAMESPACE, api_server_cidrs),
        netpol.allow_same_namespace(NAMESPACE),  # the single binary calls itself via Services
        netpol.allow_from("allow-push-from-alloy", NAMESPACE, [alloy], [LOKI_PORT], LOKI_PODS),
        netpol.allow_from("allow-query-from-grafana", NAMESPACE, [grafana], [LOKI_PORT], LOKI_PODS),
        netpol.allow_prometheus_scrape(NAMESPACE, [LOKI_PORT]),
        *netpol.baseline(COLLECTOR_NAMESPACE, api_server_cidrs),
        netpol.allow_to("allow-push-to-loki", COLLECTOR_NAMESPACE, [loki], [LOKI_PORT], ALLOY_PODS),
        netpol.allow_prometheus_scrape(COLLECTOR_NAMESPACE, [ALLOY_PORT]),
        # Grafana's side: monitoring denies egress by default.
        netpol.allow_to(
            "allow-grafana-to-loki", monitoring.NAMESPACE, [loki], [LOKI_PORT], GRAFANA_PODS
        ),
    ]
    if on_minio:
        objs.append(
            netpol.allow_to(
                "allow-loki-to-minio",
                NAMESPACE,
                [netpol.peer(minio.NAMESPACE)],
                [minio.PORT],
                LOKI_PODS,
            )
        )
    return objs


def admin_tenants(platform_namespaces: Iterable[str]) -> list[str]:
    """The tenants platform admins query in Grafana: every platform namespace, the logging
    namespaces themselves and Events of cluster-scoped objects (audit has its own)."""
    own = {"kube-system", NAMESPACE, COLLECTOR_NAMESPACE, CLUSTER_TENANT}
    return sorted(own | set(platform_namespaces))


def datasources(platform_namespaces: Iterable[str], audit: bool) -> manifests.Obj:
    """Grafana datasources (kps sidecar): the platform's tenants, and audit when on."""
    entries = [_datasource("Loki (platform)", "loki-platform", admin_tenants(platform_namespaces))]
    if audit:
        entries.append(_datasource("Loki (audit)", "loki-audit", [AUDIT_TENANT]))
    doc = {"apiVersion": 1, "datasources": entries}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": manifests.meta(DATASOURCES, monitoring.NAMESPACE, **DATASOURCE_LABEL),
        "data": {"loki.yaml": yaml.safe_dump(doc, sort_keys=False)},
    }


def _datasource(name: str, uid: str, tenants: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "uid": uid,
        "type": "loki",
        "access": "proxy",
        "url": LOKI_URL,
        "editable": False,
        "jsonData": {"httpHeaderName1": "X-Scope-OrgID"},
        "secureJsonData": {"httpHeaderValue1": "|".join(tenants)},
    }


def service_monitors() -> list[manifests.Obj]:
    """Prometheus scrapes Loki and both Alloy releases (`http-metrics` on each Service)."""
    return [
        # Not loki-headless (the chart labels it prometheus.io/service-monitor: "false").
        _service_monitor(
            LOKI,
            NAMESPACE,
            {
                "matchLabels": {"app.kubernetes.io/name": "loki"},
                "matchExpressions": [
                    {
                        "key": "prometheus.io/service-monitor",
                        "operator": "NotIn",
                        "values": ["false"],
                    }
                ],
            },
        ),
        _service_monitor(
            ALLOY, COLLECTOR_NAMESPACE, {"matchLabels": {"app.kubernetes.io/instance": ALLOY}}
        ),
        _service_monitor(
            EVENTS, COLLECTOR_NAMESPACE, {"matchLabels": {"app.kubernetes.io/instance": EVENTS}}
        ),
    ]


def _service_monitor(name: str, namespace: str, selector: dict[str, Any]) -> manifests.Obj:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": manifests.meta(name, namespace),
        "spec": {
            "selector": selector,
            "endpoints": [{"port": "http-metrics", "interval": "60s"}],
        },
    }


def platform_namespaces(built: Mapping[str, pulumi.Resource]) -> list[str]:
    """Namespaces of the built components: each component module's `*NAMESPACE` constants."""
    found: set[str] = set()
    for component in built.values():
        module = sys.modules[type(component).__module__]
        for name, value in vars(module).items():
            if name.endswith("NAMESPACE") and isinstance(value, str):
                found.add(value)
    return sorted(found)
