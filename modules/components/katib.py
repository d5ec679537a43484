"""Katib: hyper-parameter tuning in tenant namespaces, every trial through the team's queue.

Upstream's `installs/katib-with-kubeflow` (kubeflow/manifests applications/katib, every release)
is composed with `overlays/upstream/katib`. Read at kubeflow/katib v0.18.0 and v0.19.0; per concern:

- Credentials. Upstream's `katib-mysql-secrets` (root password "test") and MySQL's
  MYSQL_ALLOW_EMPTY_PASSWORD are removed; the Secret is ours, from a generated password. MySQL
  and the DB manager read the same key.
- What Katib starts in tenant namespaces, from our `katib-config` (the install's
  configMapGenerator file, replaced whole: it is one YAML string):
  - trials only as kinds Kueue manages here (`trialResources`; pkg/apis/config/v1beta1/types.go
    ControllerConfig), so with the tenant's LocalQueue `default` (Kueue's queue defaulting)
    a trial is a queued workload inside the team's quota like any other job;
  - suggestions run `restricted` (SuggestionConfig embeds a corev1.Container, which the
    composer deep-copies: pkg/controller.v1beta1/suggestion/composer/composer.go), sized;
  - metrics collectors copy the trial container's securityContext (`injectSecurityContext`,
    pkg/webhook/v1beta1/pod/inject_webhook.go) and wait for the main process only
    (`waitAllProcesses: false`): with a shared process namespace the collector would otherwise
    also wait for istio-proxy (pkg/metricscollector/v1beta1/common/pns.go counts every root
    process), which, as a native sidecar, only exits after the collector does;
  - early stopping is refused in `restricted` namespaces by an admission policy: its container
    has no securityContext and no setting for one (composer.go), so its pods would be
    rejected and the experiment would hang without saying why.
- Network. Trials' collectors report to `katib-db-manager` (6789) in `kubeflow`; the controller
  calls each experiment's suggestion service (6789) in the tenant namespace; the UI is reached
  from the platform gateway only.
- Routing and authz. The UI's VirtualService is bound to the platform gateway; its
  AuthorizationPolicy admits the gateway's principal, which is the platform's (istio.py); the UI
  checks each request with a SubjectAccessReview for the `kubeflow-userid` user (upstream's
  APP_DISABLE_AUTH=false patch).
- Roles. The `kubeflow-katib-*` ClusterRoles aggregate into Kubeflow's kubeflow-{admin,edit,view},
  which we do not deploy; the tenant roles (rbac.py) grant experiments, trials and suggestions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol, overlays
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.components.kubeflow_namespace import NAMESPACE
from mlplatform.config import PlatformConfig
from mlplatform.mirror import rewrite_image

MYSQL_SECRET = "katib-mysql-secrets"
MYSQL_PASSWORD_KEY = "MYSQL_ROOT_PASSWORD"
CONFIG_MAP = "katib-config"
CONFIG_FILE = "katib-config.yaml"
DB_MANAGER_PORT = 6789  # katib-db-manager's gRPC API (components/db-manager/service.yaml)
SUGGESTION_PORT = 6789  # consts.DefaultSuggestionPort
UI_PORT = 8080  # katib-ui's container port (components/ui/ui.yaml)
WEBHOOK_PORT = 8443
MYSQL_PORT = 3306
# The label Katib's pod webhook selects namespaces by (components/webhook/webhooks.yaml).
INJECTION_LABEL = {"katib.kubeflow.org/metrics-collector-injection": "enabled"}
EARLY_STOPPING_POLICY = "mlplatform-katib-early-stopping"
IMAGES = "ghcr.io/kubeflow/katib"
# Upstream's algorithm -> image name, and collector kind -> image name (installs/
# katib-cert-manager/katib-config.yaml at v1.10.2, v1.11.0, 26.03; tests/upstream compares).
SUGGESTIONS = {
    "random": "suggestion-hyperopt",
    "tpe": "suggestion-hyperopt",
    "grid": "suggestion-optuna",
    "hyperband": "suggestion-hyperband",
    "bayesianoptimization": "suggestion-skopt",
    "cmaes": "suggestion-goptuna",
    "sobol": "suggestion-goptuna",
    "multivariate-tpe": "suggestion-optuna",
    "enas": "suggestion-enas",
    "darts": "suggestion-darts",
    "pbt": "suggestion-pbt",
}
COLLECTORS = {
    "StdOut": "file-metrics-collector",
    "File": "file-metrics-collector",
    "TensorFlowEvent": "tfevent-metrics-collector",
}
EARLY_STOPPINGS = {"medianstop": "earlystopping-medianstop"}
# pbt keeps its population on a volume (upstream's claim, unchanged).
PBT_VOLUME = {
    "accessModes": ["ReadWriteMany"],
    "resources": {"requests": {"storage": "5Gi"}},
}
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}


def trial_resources(config: PlatformConfig) -> list[str]:
    """Trial kinds (Kind.version.group) whose jobs Kueue queues on this platform."""
    training = config.components.training
    kinds = ["Job.v1.batch"]
    if training.operator:
        kinds.append("PyTorchJob.v1.kubeflow.org")
    if training.trainer_on(config.release):
        kinds.append("TrainJob.v1alpha1.trainer.kubeflow.org")
    return kinds


def katib_config(config: PlatformConfig) -> dict[str, Any]:
    """The KatibConfig for this release, images mirrored, everything sized."""
    cfg = config.components.katib
    tag = config.catalogue.component("katib").version
    registry = config.mirror.registry if config.mirror else None

    def image(name: str) -> str:
        ref = f"{IMAGES}/{name}:{tag}"
        return rewrite_image(ref, registry) if registry else ref

    collector = cfg.metrics_collector_resources.as_k8s()
    suggestions = []
    for algorithm, name in SUGGESTIONS.items():
        entry: dict[str, Any] = {
            "algorithmName": algorithm,
            "image": image(name),
            "resources": cfg.suggestion_resources.as_k8s(),
            "securityContext": RESTRICTED,
        }
        if algorithm == "pbt":
            entry["persistentVolumeClaimSpec"] = PBT_VOLUME
        suggestions.append(entry)
    return {
        "apiVersion": "config.kubeflow.org/v1beta1",
        "kind": "KatibConfig",
        "init": {
            "controller": {
                "webhookPort": WEBHOOK_PORT,
                "injectSecurityContext": True,
                "trialResources": trial_resources(config),
            }
        },
        "runtime": {
            "metricsCollectors": [
                {
                    "kind": kind,
                    "image": image(name),
                    "resources": collector,
                    "waitAllProcesses": False,
                }
                for kind, name in COLLECTORS.items()
            ],
            "suggestions": suggestions,
            "earlyStoppings": [
                {"algorithmName": a, "image": image(n), "resources": collector}
                for a, n in EARLY_STOPPINGS.items()
            ],
        },
    }


class Katib(PlatformComponent):
    """Outputs `ui`: the in-cluster address of the Katib UI."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("katib:Katib", "katib", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.katib
        password = self.password("katib-mysql-password")
        base = self.objects(
            "katib-base",
            [
                *network_policies(),
                manifests.secret(
                    MYSQL_SECRET,
                    NAMESPACE,
                    {MYSQL_PASSWORD_KEY: password},
                ),
                *early_stopping_policy(),
            ],
        )
        self.katib = self.kustomize_overlay(
            "katib",
            "katib",
            {
                "patches": [
                    config_patch(ctx.config),
                    overlays.bind_virtual_services(f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"),
                    storage_patch(str(cfg.mysql_storage)),
                    *overlays.resource_patches(cfg.container_resources()),
                ]
            },
            [base],
        )
        self.ui = pulumi.Output.from_input(f"katib-ui.{NAMESPACE}.svc.cluster.local")
        self.register_outputs({"ui": self.ui})


def config_patch(config: PlatformConfig) -> dict[str, Any]:
    """Replace upstream's `katib-config` file with ours."""
    return {
        "target": {"kind": "ConfigMap", "name": f"^{CONFIG_MAP}$"},
        "patch": yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIG_MAP},
                "data": {CONFIG_FILE: yaml.safe_dump(katib_config(config), sort_keys=False)},
            }
        ),
    }


def storage_patch(size: str) -> dict[str, Any]:
    """MySQL's claim (upstream: 10Gi, components/mysql/pvc.yaml)."""
    return {
        "target": {"kind": "PersistentVolumeClaim", "name": "^katib-mysql$"},
        "patch": yaml.safe_dump(
            [{"op": "replace", "path": "/spec/resources/requests/storage", "value": size}]
        ),
    }


def early_stopping_policy() -> list[manifests.Obj]:
    """Refuse early stopping where Pod Security `restricted` would reject its pods."""
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    message = (
        "early stopping is not available in namespaces enforcing Pod Security restricted: "
        "Katib's early-stopping container has no securityContext; remove spec.earlyStopping"
    )
    api = "admissionregistration.k8s.io/v1"
    return [
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": manifests.meta(EARLY_STOPPING_POLICY),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": {"matchLabels": restricted},
                    "resourceRules": [
                        {
                            "apiGroups": ["kubeflow.org"],
                            "apiVersions": ["*"],
                            "resources": ["experiments"],
                            "operations": ["CREATE", "UPDATE"],
                        }
                    ],
                },
                "validations": [
                    {"expression": "!has(object.spec.earlyStopping)", "message": message}
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": manifests.meta(EARLY_STOPPING_POLICY),
            "spec": {"policyName": EARLY_STOPPING_POLICY, "validationActions": ["Deny"]},
        },
    ]


def network_policies() -> list[manifests.Obj]:
    """Katib's allows in `kubeflow` (its baseline comes with the namespace), named `katib-*`."""
    tenants = netpol.labelled_namespaces(INJECTION_LABEL)
    return [
        netpol.allow_from(
            "katib-ui-from-ingress-gateway",
            NAMESPACE,
            [netpol.gateway_peer()],
            [UI_PORT],
            pods=pods("ui"),
        ),
        # Trials' metrics collectors and the UI and controller read/write observation logs.
        netpol.allow_from(
            "katib-db-manager-from-clients",
            NAMESPACE,
            [
                tenants,
                netpol.peer(NAMESPACE, pods("controller")),
                netpol.peer(NAMESPACE, pods("ui")),
            ],
            [DB_MANAGER_PORT],
            pods=pods("db-manager"),
        ),
        *(
            netpol.allow_to(
                f"katib-{client}-to-db-manager",
                NAMESPACE,
                [netpol.peer(NAMESPACE, pods("db-manager"))],
                [DB_MANAGER_PORT],
                pods=pods(client),
            )
            for client in ("controller", "ui")
        ),
        netpol.allow_from(
            "katib-mysql-from-db-manager",
            NAMESPACE,
            [netpol.peer(NAMESPACE, pods("db-manager"))],
            [MYSQL_PORT],
            pods=pods("mysql"),
        ),
        netpol.allow_to(
            "katib-db-manager-to-mysql",
            NAMESPACE,
            [netpol.peer(NAMESPACE, pods("mysql"))],
            [MYSQL_PORT],
            pods=pods("db-manager"),
        ),
        netpol.policy(
            "katib-webhooks-from-apiserver",
            NAMESPACE,
            pods=pods("controller"),
            ingress=[{"ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}],
        ),
        netpol.allow_to(
            "katib-controller-to-suggestions",
            NAMESPACE,
            [tenants],
            [SUGGESTION_PORT],
            pods=pods("controller"),
        ),
    ]


def pods(component: str) -> dict[str, str]:
    """Katib's pod labels (`katib.kubeflow.org/component`, components/*/ in every release)."""
    return {"katib.kubeflow.org/component": component}


def tenant_network_policies(namespace: str) -> list[manifests.Obj]:
    """In a tenant namespace: trials report to the DB manager, the controller calls suggestions."""
    return [
        netpol.allow_to(
            "allow-to-katib-db-manager",
            namespace,
            [netpol.peer(NAMESPACE, pods("db-manager"))],
            [DB_MANAGER_PORT],
        ),
        netpol.allow_from(
            "allow-from-katib-controller",
            namespace,
            [netpol.peer(NAMESPACE, pods("controller"))],
            [SUGGESTION_PORT],
        ),
    ]
