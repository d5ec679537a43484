"""Nightly conformance in the cluster: the scenario suite as a CronJob, results in MinIO,
outcome and durations as Prometheus metrics through a Pushgateway.

Least privilege for the runner's ServiceAccount (`conformance/conformance-runner`):

* `RUNNER_RULES` (ClusterRoleBinding; cluster-wide because scenario namespaces are created
  per run): create/get/delete Namespaces and the cluster-scoped Kueue objects scenarios own
  (ResourceFlavor, ClusterQueue, WorkloadPriorityClass), create RoleBindings, `bind` only the
  three ClusterRoles scenario RoleBindings name, list Nodes (gpu-scheduling), create
  SubjectAccessReviews. RBAC cannot narrow these by name prefix, so the ValidatingAdmission-
  Policy `ADMISSION_POLICY` does: every write by this account must target a namespace named
  `scn-*` carrying the scenario label (or a cluster-scoped object named `scn-*`); its
  namespaces enforce Pod Security restricted or baseline, its queues join only `scn-*` cohorts.
* `SCENARIO_RULES` (a ClusterRole bound by the runner itself, per scenario namespace it
  created: scenarios/incluster.py SelfBinding): what the scenarios create and read there.
* Roles where evidence lives: its own keys Secret in `minio` (by name), controller pod logs
  in the namespaces of enabled controllers. No impersonation, no escalate, no secret reads
  beyond that one Secret; `tenant-isolation` runs in CI only (config/conformance.py).

RoleBinding-creating and binding `edit` is what every scenario tenant needs (its synthetic
member); the admission policy keeps that inside scenario namespaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from mlplatform import manifests, minio_users, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import kueue, minio, serving
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.components.training import TRAINER_NAMESPACE
from mlplatform.config.conformance import seconds
from mlplatform.manifests import Obj, meta
from mlplatform.scenarios import incluster
from mlplatform.scenarios.images import scenario_image
from mlplatform.scenarios.manifests.tenancy import MEMBER_ROLE, SCENARIO_LABEL
from mlplatform.scenarios.s3 import ENDPOINT_VAR

NAMESPACE = incluster.NAMESPACE
SERVICE_ACCOUNT = incluster.SERVICE_ACCOUNT
RUNNER_ROLE = "mlplatform-conformance-runner"
SCENARIO_ROLE = incluster.SCENARIO_ROLE
LOGS_ROLE = "mlplatform-conformance-logs"
ADMISSION_POLICY = "mlplatform-conformance-scope"
CRONJOB = "conformance"
BUCKET = incluster.BUCKET
MINIO_USER = "conformance"
MINIO_JOB = "conformance-bucket"
CREDENTIALS_SECRET = incluster.CREDENTIALS_SECRET
RUNNER_LABELS = {"app.kubernetes.io/name": "conformance-runner"}
PUSHGATEWAY = "pushgateway"
PUSHGATEWAY_PORT = 9091
# Chart selector labels: name = the chart's name, instance = the release name
# (prometheus-community/helm-charts prometheus-pushgateway-3.8.0 templates/_helpers.tpl).
PUSHGATEWAY_LABELS = {
    "app.kubernetes.io/name": "prometheus-pushgateway",
    "app.kubernetes.io/instance": PUSHGATEWAY,
}
PUSHGATEWAY_URL = f"http://{PUSHGATEWAY}.{NAMESPACE}.svc.cluster.local:{PUSHGATEWAY_PORT}"
OUT_DIR = "/tmp/conformance"
RUNS_PREFIX = "runs"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PIPELINES_EDIT = "kubeflow-pipelines-edit"  # scenarios/manifests/pipelines.py identities

Rule = dict[str, list[str]]


def _rule(group: str, resources: list[str], verbs: list[str], names: Sequence[str] = ()) -> Rule:
    rule = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = list(names)
    return rule


# Cluster-scoped objects scenarios create and delete after the run.
CLUSTER_SCOPED = {"": ["namespaces"], "kueue.x-k8s.io": ["clusterqueues", "resourceflavors",
                                                        "workloadpriorityclasses"]}  # fmt: skip
# Namespaced objects scenarios create (scenarios/manifests, library Plan.manifests).
NAMESPACED = {
    "": ["resourcequotas", "limitranges", "serviceaccounts"],
    "networking.k8s.io": ["networkpolicies"],
    "kueue.x-k8s.io": ["localqueues"],
    "batch": ["jobs"],
    "kubeflow.org": ["pytorchjobs"],
    "trainer.kubeflow.org": ["trainjobs", "trainingruntimes"],
    "serving.kserve.io": ["servingruntimes", "inferenceservices"],
}
BOUND_ROLES = (MEMBER_ROLE, PIPELINES_EDIT, SCENARIO_ROLE)

RUNNER_RULES: list[Rule] = [
    *(_rule(g, r, ["create", "get", "delete"]) for g, r in CLUSTER_SCOPED.items()),
    _rule("rbac.authorization.k8s.io", ["rolebindings"], ["create"]),
    _rule("rbac.authorization.k8s.io", ["clusterroles"], ["bind"], BOUND_ROLES),
    _rule("", ["nodes"], ["list"]),
    _rule("authorization.k8s.io", ["subjectaccessreviews"], ["create"]),
]
SCENARIO_RULES: list[Rule] = [
    *(_rule(g, r, ["create", "get"]) for g, r in NAMESPACED.items()),
    _rule("", ["secrets"], ["create"]),  # S3 keys for the model; never read back
    _rule("rbac.authorization.k8s.io", ["rolebindings"], ["get"]),
    _rule("", ["pods", "events"], ["list"]),
    _rule("", ["pods/log"], ["get"]),
    _rule("kueue.x-k8s.io", ["workloads"], ["list"]),
]
LOGS_RULES: list[Rule] = [_rule("", ["pods"], ["list"]), _rule("", ["pods/log"], ["get"])]
# Writes the admission policy confines (everything RUNNER_RULES and SCENARIO_RULES write).
WRITES = {
    g: sorted({*CLUSTER_SCOPED.get(g, []), *NAMESPACED.get(g, [])})
    for g in {*CLUSTER_SCOPED, *NAMESPACED}
}
WRITES[""] = sorted({*WRITES[""], "secrets"})
WRITES["rbac.authorization.k8s.io"] = ["rolebindings"]


def _subject() -> Obj:
    return {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}


def _cluster_role(name: str, rules: list[Rule]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta(name),
        "rules": rules,
    }


def _binding(kind: str, name: str, role_kind: str, role: str, ns: str | None = None) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta(name, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [_subject()],
    }


def rbac_objects(log_namespaces: Sequence[str]) -> list[Obj]:
    """The runner's ServiceAccount, roles and bindings (see the module docstring)."""
    credentials = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta("conformance-credentials", minio.NAMESPACE),
        "rules": [_rule("", ["secrets"], ["get"], [CREDENTIALS_SECRET])],
    }
    out = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(SERVICE_ACCOUNT, NAMESPACE),
            "automountServiceAccountToken": False,
        },
        _cluster_role(RUNNER_ROLE, RUNNER_RULES),
        _cluster_role(SCENARIO_ROLE, SCENARIO_RULES),
        _cluster_role(LOGS_ROLE, LOGS_RULES),
        _binding("ClusterRoleBinding", RUNNER_ROLE, "ClusterRole", RUNNER_ROLE),
        credentials,
        _binding(
            "RoleBinding",
            "conformance-credentials",
            "Role",
            "conformance-credentials",
            minio.NAMESPACE,
        ),
    ]
    out += [
        _binding("RoleBinding", "conformance-controller-logs", "ClusterRole", LOGS_ROLE, ns)
        for ns in log_namespaces
    ]
    return out


def admission_objects() -> list[Obj]:
    """Every write by the runner targets a scenario namespace or a `scn-*` cluster object."""
    prefix, label = incluster.SCENARIO_PREFIX, SCENARIO_LABEL
    username = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
    # Only strings and booleans (no object-typed branches): `meta` is the written object's
    # metadata, `request.namespace` is empty for cluster-scoped objects, variables are lazy.
    labelled = f"has(variables.meta.labels) && '{label}' in variables.meta.labels"
    in_scenario_ns = (
        f"request.namespace.startsWith('{prefix}') && has(namespaceObject.metadata.labels) && "
        f"'{label}' in namespaceObject.metadata.labels"
    )
    named = f"variables.meta.name.startsWith('{prefix}')"
    rule = (
        f"request.resource.resource == 'namespaces' ? ({named} && {labelled}) : "
        f"(request.namespace == '' ? {named} : variables.inScenarioNamespace)"
    )
    api = "admissionregistration.k8s.io/v1"
    return [
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": meta(ADMISSION_POLICY),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [group],
                            "apiVersions": ["*"],
                            "resources": resources,
                            "operations": ["CREATE", "UPDATE", "DELETE"],
                        }
                        for group, resources in sorted(WRITES.items())
                    ],
                },
                "matchConditions": [
                    {
                        "name": "conformance-runner",
                        "expression": f"request.userInfo.username == '{username}'",
                    }
                ],
                "variables": [
                    {
                        "name": "meta",
                        "expression": "request.operation == 'DELETE' ? oldObject.metadata "
                        ": object.metadata",
                    },
                    {"name": "inScenarioNamespace", "expression": in_scenario_ns},
                ],
                "validations": [
                    {
                        "expression": rule,
                        "messageExpression": f"'the conformance runner writes only in namespaces "
                        f"named {prefix}* labelled {label} (and cluster objects named {prefix}*); "
                        f"refused: ' + request.resource.resource + ' ' + variables.meta.name",
                    },
                    {  # it chooses its namespaces' Pod Security level: never privileged
                        "expression": f"request.resource.resource != 'namespaces' || "
                        f"request.operation == 'DELETE' || (has(object.metadata.labels) && "
                        f"'{PSA_ENFORCE}' in object.metadata.labels && "
                        f"object.metadata.labels['{PSA_ENFORCE}'] in ['restricted', 'baseline'])",
                        "message": f"a scenario namespace enforces Pod Security restricted or "
                        f"baseline ({PSA_ENFORCE})",
                    },
                    {  # its queues never join a tenant's cohort (no borrowing, no reclaiming)
                        "expression": f"request.resource.resource != 'clusterqueues' || "
                        f"request.operation == 'DELETE' || ("
                        f"(!has(object.spec.cohort) || object.spec.cohort.startsWith('{prefix}')) "
                        f"&& (!has(object.spec.cohortName) || "
                        f"object.spec.cohortName.startsWith('{prefix}')))",
                        "message": f"a scenario ClusterQueue joins only a {prefix}* cohort",
                    },
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": meta(ADMISSION_POLICY),
            "spec": {"policyName": ADMISSION_POLICY, "validationActions": ["Deny"]},
        },
    ]


def network_objects(api_server_cidrs: Sequence[str]) -> list[Obj]:
    """Runner egress: DNS, the API server, MinIO and the Pushgateway; the Pushgateway takes
    pushes from the runner and scrapes from Prometheus."""
    runner, gateway, port = RUNNER_LABELS, PUSHGATEWAY_LABELS, PUSHGATEWAY_PORT
    return [
        *netpol.baseline(NAMESPACE, api_server_cidrs),
        netpol.allow_to(
            "allow-runner-to-minio", NAMESPACE, [netpol.peer(minio.NAMESPACE)], [minio.PORT], runner
        ),
        netpol.allow_to(
            "allow-runner-to-pushgateway", NAMESPACE, [netpol.peer(pods=gateway)], [port], runner
        ),
        netpol.allow_from(
            "allow-pushes-from-runner", NAMESPACE, [netpol.peer(pods=runner)], [port], gateway
        ),
        netpol.allow_prometheus_scrape(NAMESPACE, [port]),
    ]


def _secret_env(name: str, key: str) -> Obj:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}}}


def cronjob(ctx: Context) -> Obj:
    """The nightly run: `mlplatform conformance run --in-cluster`, then publish and push."""
    cfg = ctx.config.components.conformance
    image = cfg.image or scenario_image()
    args = ["conformance", "run", "--in-cluster", "--release", ctx.config.release,
            "--out", OUT_DIR, "--image", image, "--timeout-scale", f"{cfg.timeout_scale:g}",
            "--publish", f"s3://{BUCKET}/{RUNS_PREFIX}", "--pushgateway", PUSHGATEWAY_URL,
            "--retention-days", str(cfg.retention_days)]  # fmt: skip
    if ctx.config.mirror:
        args += ["--registry", ctx.config.mirror.registry]
    for name in cfg.scenarios:
        args += ["--scenario", name]
    container = {
        "name": "runner",
        "image": image,
        "command": ["mlplatform"],
        "args": args,
        "env": [
            {"name": ENDPOINT_VAR, "value": f"http://{minio.ENDPOINT}"},
            _secret_env(minio_users.ACCESS_KEY, minio_users.ACCESS_KEY),
            _secret_env(minio_users.SECRET_KEY, minio_users.SECRET_KEY),
            {
                "name": "MLPLATFORM_SERVICE_ACCOUNT",
                "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}},
            },
        ],
        "resources": cfg.resources.as_k8s(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod: dict[str, Any] = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": True,  # the runner talks to the API server
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(CRONJOB, NAMESPACE),
        "spec": {
            "schedule": cfg.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": cfg.successful_jobs_history,
            "failedJobsHistoryLimit": cfg.failed_jobs_history,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": cfg.backoff_limit,
                    "activeDeadlineSeconds": seconds(cfg.timeout),
                    "template": {"metadata": {"labels": dict(RUNNER_LABELS)}, "spec": pod},
                }
            },
        },
    }


def pushgateway_values(ctx: Context) -> dict[str, Any]:
    """Values read by prometheus-pushgateway 3.8.0 (values.yaml, templates/deployment.yaml)."""
    cfg = ctx.config.components.conformance
    return {
        "fullnameOverride": PUSHGATEWAY,
        "resources": cfg.pushgateway_resources.as_k8s(),
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "serviceMonitor": {
            "enabled": ctx.config.components.monitoring.enabled,
            "namespace": NAMESPACE,
            "honorLabels": True,  # keep the pushed job/instance labels
        },
    }


class Conformance(PlatformComponent):
    """Outputs `bucket`, `schedule` and `pushgateway` (the in-cluster push URL)."""

    def __init__(
        self,
        ctx: Context,
        log_namespaces: Sequence[str] = (),
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("conformance:Conformance", "conformance", ctx, depends_on)
        cfg = ctx.config.components.conformance
        secret_key = self.password("conformance-s3-secret-key", 40)
        access_key = pulumi.Output.secret(MINIO_USER)
        keys = {
            minio_users.ACCESS_KEY: access_key,
            minio_users.SECRET_KEY: secret_key,
            "rootUser": access_key,  # serve-and-load's names for the same pair
            "rootPassword": secret_key,
        }
        labels = {**netpol.OBJECT_STORE_CLIENT}
        base = self.objects(
            "conformance-base",
            [
                manifests.namespace(NAMESPACE, "restricted", labels),
                *network_objects(ctx.config.network.api_server_cidrs),
                manifests.secret(CREDENTIALS_SECRET, NAMESPACE, keys),
                minio_users.keys_secret(CREDENTIALS_SECRET, keys),
                *rbac_objects(log_namespaces),
                *admission_objects(),
            ],
        )
        bucket = self.objects(
            "conformance-bucket",
            [
                minio_users.user_job(
                    MINIO_JOB,
                    BUCKET,
                    MINIO_USER,
                    CREDENTIALS_SECRET,
                    ctx.component("minio").images["mc"],
                    "conformance-storage",
                )
            ],
            depends_on=[base],
        )
        gateway = self.chart(
            PUSHGATEWAY, "pushgateway", NAMESPACE, pushgateway_values(ctx), depends_on=[base]
        )
        self.cron = self.objects(
            "conformance-cronjob", [cronjob(ctx)], depends_on=[bucket, gateway]
        )
        outputs = {"bucket": BUCKET, "schedule": cfg.schedule, "pushgateway": PUSHGATEWAY_URL}
        self.register_outputs(outputs)


def controller_namespaces(
    ctx: Context, built: dict[str, pulumi.Resource]
) -> tuple[list[str], list[pulumi.Resource]]:
    """Namespaces of the enabled controllers whose logs a failed scenario collects (library
    Endpoints.controllers), and the components to deploy after: MinIO, monitoring, Kueue and
    the owners of those namespaces."""
    trainer = ctx.config.components.training.trainer_on(ctx.config.release)
    owners = {
        "kueue": kueue.NAMESPACE,
        "kubeflow_namespace": KUBEFLOW,
        "serving": serving.NAMESPACE,
        "training": TRAINER_NAMESPACE if trainer else None,
    }
    namespaces = [ns for name, ns in owners.items() if ns and name in built]
    after = [built[n] for n in ("minio", "monitoring", *owners) if n in built]
    return namespaces, after
