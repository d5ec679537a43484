"""Kubeflow Notebooks: the notebook controller, the Jupyter web app (spawner) and PodDefaults.

Read at kubeflow/kubeflow v1.10.0 (every release's images) and kubeflow/manifests at the pins:

- What a spawned notebook is. The web app fills `apps/common/yaml/notebook_template.yaml`
  (`str.format` with name, namespace, serviceAccount=default-editor, creator; utils.py,
  default/routes/post.py) with the spawner config's image, CPU and memory (limit = request x
  `limitFactor`), GPUs, shm (an emptyDir), PodDefault labels and a workspace PVC. The template
  has no securityContext, and the controller adds only `fsGroup: 100` when the pod has none
  (notebook-controller/controllers/notebook_controller.go generateStatefulSet), so upstream's
  notebooks fail Pod Security `restricted`, which tenant namespaces enforce. Our template
  (ConfigMap `notebook-template`, mounted over the image's file: WORKDIR /src, apps/ copied to
  ./apps, jupyter/Dockerfile) sets the restricted fields and keeps fsGroup 100 / uid 1000 (the
  notebook-servers images' jovyan). PodDefault cannot set a securityContext (its CRD's spec).
- Quota. The spawner's defaults request `notebookCpu`/`notebookMemory` with limits 1.2x, so a
  notebook is counted by the tenant's ResourceQuota (requests.cpu, requests/limits.memory,
  requests.storage for the workspace PVC).
- Team credentials. Each tenant namespace gets two PodDefaults (modules/tenancy/objects.py),
  preselected in the spawner: `team-bucket` (the tenant's own `s3-credentials` keys, MinIO's
  endpoint and bucket) and `team-pipelines` (a projected ServiceAccount token with audience
  `pipelines.kubeflow.org`, which KFP's multi-user API server accepts, and its address). The
  webhook's namespaceSelector (upstream: `app.kubernetes.io/part-of: kubeflow-profile`, which
  only the profile controller sets) is pointed at tenant namespaces.
- GPUs are refused. Kueue can queue a StatefulSet's pods only with its `pod` integration
  (kueue charts 0.11/0.14 values.yaml: "statefulset (requires enabling pod integration)";
  not in the catalogue's Kueue integrations), which gates every pod of the namespaces it
  manages, and an idle notebook would hold its GPU quota for as long as it runs. So the
  spawner offers no GPU (`gpus` read-only, none) and a ValidatingAdmissionPolicy refuses a
  Notebook asking for any GPU in a tenant namespace, saying to submit a job to the queue.
- Routing. Notebooks are reached at `/notebook/<ns>/<name>/` through VirtualServices the
  controller writes on `ISTIO_GATEWAY` (the platform gateway here); the tenant's
  AuthorizationPolicy admits only its members. The web app is at `/jupyter/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol, overlays
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.identity import USERID_HEADER
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.components.kubeflow_namespace import NAMESPACE
from mlplatform.components.rbac import AGGREGATE_LABEL, READ, WRITE
from mlplatform.mirror import rewrite_image

WEB_APP = "jupyter-web-app-deployment"
WEB_APP_CONTAINER = "jupyter-web-app"
WEB_APP_PORT = 5000
WEB_APP_PODS = {"app": "jupyter-web-app"}
WEB_APP_CONFIG = (
    "jupyter-web-app-config"  # generated upstream (hash suffix), mounted at /etc/config
)
TEMPLATE = "notebook-template"  # ours
TEMPLATE_PATH = "/src/apps/common/yaml/notebook_template.yaml"
CONTROLLER = "notebook-controller-deployment"
CONTROLLER_CONTAINER = "manager"
CONTROLLER_CONFIG = "notebook-controller-config"
WEBHOOK = "admission-webhook-deployment"
WEBHOOK_CONTAINER = "admission-webhook"
WEBHOOK_CONFIGURATION = "admission-webhook-mutating-webhook-configuration"
WEBHOOK_PORT = 4443
WEBHOOK_PODS = {"app": "poddefaults"}
# The notebook-servers images' user (jovyan) and group (users).
NOTEBOOK_UID, NOTEBOOK_GID = 1000, 100
GPU_POLICY = "mlplatform-notebooks-no-gpu"
GPU_MESSAGE = (
    "GPU notebooks are not offered: submit GPU work as a job to your team's queue "
    "(label kueue.x-k8s.io/queue-name: default) and keep notebooks on CPU"
)
# PodDefaults every tenant namespace gets (modules/tenancy/objects.py), preselected.
BUCKET_PODDEFAULT, PIPELINES_PODDEFAULT = "team-bucket", "team-pipelines"
PIPELINES_AUDIENCE = "pipelines.kubeflow.org"
PIPELINES_TOKEN_DIR = "/var/run/secrets/kubeflow/pipelines"
TENANT_LABEL_KEY = "mlplatform.io/tenant"  # = tenancy.objects.TENANT_LABEL (upstream rung)


class Notebooks(PlatformComponent):
    """Outputs `url`: the spawner."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("notebooks:Notebooks", "notebooks", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.notebooks
        base = self.objects(
            "notebooks-base",
            [
                *network_policies(),
                *tenant_roles(),
                *gpu_refusal(),
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": manifests.meta(TEMPLATE, NAMESPACE),
                    "data": {"notebook_template.yaml": notebook_template()},
                },
            ],
        )
        self.controller = self.kustomize_overlay(
            "notebook-controller",
            "notebook_controller",
            {
                "patches": [
                    overlays.container_patch(
                        CONTROLLER,
                        CONTROLLER_CONTAINER,
                        {"resources": cfg.controller_resources.as_k8s()},
                    ),
                    _config_patch(
                        CONTROLLER_CONFIG,
                        {"ISTIO_GATEWAY": f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"},
                    ),
                ]
            },
            [base],
        )
        self.webhook = self.kustomize_overlay(
            "admission-webhook",
            "admission_webhook",
            {
                "patches": [
                    overlays.container_patch(
                        WEBHOOK, WEBHOOK_CONTAINER, {"resources": cfg.webhook_resources.as_k8s()}
                    ),
                    webhook_selector_patch(),
                ]
            },
            [base],
        )
        self.web_app = self.kustomize_overlay(
            "jupyter-web-app",
            "jupyter_web_app",
            {
                "replicas": [{"name": WEB_APP, "count": cfg.web_app_replicas}],
                "patches": [
                    overlays.bind_virtual_services(f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"),
                    web_app_patch(cfg.web_app_resources.as_k8s()),
                    _config_patch(
                        WEB_APP_CONFIG,
                        {"spawner_ui_config.yaml": yaml.safe_dump(spawner_config(ctx))},
                    ),
                ],
            },
            [base, self.controller, self.webhook],
            overlay="jupyter",
        )
        self.url = pulumi.Output.from_input(f"https://{ctx.config.ingress.domain}/jupyter/")
        self.register_outputs({"url": self.url})


def notebook_template() -> str:
    """The web app's Notebook template, upstream's with Pod Security `restricted` fields.

    `str.format` placeholders only ({name}, {namespace}, {serviceAccount}, {creator}).
    """
    return f"""apiVersion: kubeflow.org/v1beta1
kind: Notebook
metadata:
  name: {{name}}
  namespace: "{{namespace}}"
  labels:
    app: {{name}}
  annotations:
    notebooks.kubeflow.org/server-type: ""
    notebooks.kubeflow.org/creator: "{{creator}}"
spec:
  template:
    spec:
      serviceAccountName: {{serviceAccount}}
      securityContext:
        runAsNonRoot: true
        runAsUser: {NOTEBOOK_UID}
        runAsGroup: {NOTEBOOK_GID}
        fsGroup: {NOTEBOOK_GID}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{name}}
          image: ""
          volumeMounts: []
          env: []
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          resources:
            requests:
              cpu: "0.1"
              memory: "0.1Gi"
      volumes: []
      tolerations: []
"""


def spawner_config(ctx: Context) -> dict[str, Any]:
    """The spawner's form defaults: mirrored CPU images, quota-sized defaults, no GPUs, the
    team's PodDefaults preselected (keys read by jupyter backend apps/common/form.py)."""
    cfg = ctx.config.components.notebooks
    images = ctx.component("jupyter_web_app").images
    mirror = ctx.config.mirror

    def image(name: str) -> str:
        return rewrite_image(images[name], mirror.registry) if mirror else images[name]

    jupyter = [image(n) for n in images if n.startswith("jupyter-")]
    fixed = {"readOnly": True}
    return {
        "spawnerFormDefaults": {
            "allowCustomImage": False,  # only mirrored images, in an air gap too
            "hideRegistry": True,
            "hideTag": False,
            "imagePullPolicy": {"readOnly": False, "value": "IfNotPresent"},
            "image": {"value": jupyter[0], "options": jupyter},
            "imageGroupOne": {
                "value": image("codeserver-python"),
                "options": [image("codeserver-python")],
            },
            "imageGroupTwo": {
                "value": image("rstudio-tidyverse"),
                "options": [image("rstudio-tidyverse")],
            },
            "cpu": {"readOnly": False, "value": cfg.notebook_cpu, "limitFactor": "1.2"},
            "memory": {"readOnly": False, "value": cfg.notebook_memory, "limitFactor": "1.2"},
            "gpus": {**fixed, "value": {"vendor": "", "vendors": [], "num": "none"}},
            "workspaceVolume": {
                "readOnly": False,
                "value": {
                    "mount": "/home/jovyan",
                    "newPvc": {
                        "metadata": {"name": "{notebook-name}-workspace"},
                        "spec": {
                            "resources": {"requests": {"storage": "5Gi"}},
                            "accessModes": ["ReadWriteOnce"],
                        },
                    },
                },
            },
            "dataVolumes": {"readOnly": False, "value": []},
            "affinityConfig": {"readOnly": False, "value": "", "options": []},
            "tolerationGroup": {"readOnly": False, "value": "", "options": []},
            "shm": {"readOnly": False, "value": True},
            "configurations": {
                "readOnly": False,
                "value": [BUCKET_PODDEFAULT, PIPELINES_PODDEFAULT],
            },
            "environment": {"readOnly": False, "value": {}},
        }
    }


def web_app_patch(resources: dict[str, Any]) -> dict[str, Any]:
    """Requests/limits, the user header, and our Notebook template over the image's."""
    return {
        "target": {"kind": "Deployment", "name": f"^{WEB_APP}$"},
        "patch": yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": WEB_APP},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": WEB_APP_CONTAINER,
                                    "resources": resources,
                                    "env": [
                                        {"name": "USERID_HEADER", "value": USERID_HEADER},
                                        {"name": "USERID_PREFIX", "value": ""},
                                    ],
                                    "volumeMounts": [
                                        {
                                            "name": TEMPLATE,
                                            "mountPath": TEMPLATE_PATH,
                                            "subPath": "notebook_template.yaml",
                                            "readOnly": True,
                                        }
                                    ],
                                }
                            ],
                            "volumes": [{"name": TEMPLATE, "configMap": {"name": TEMPLATE}}],
                        }
                    }
                },
            }
        ),
    }


def webhook_selector_patch() -> dict[str, Any]:
    """PodDefaults apply in tenant namespaces (upstream selects profile-controller labels)."""
    return {
        "target": {"kind": "MutatingWebhookConfiguration", "name": f"^{WEBHOOK_CONFIGURATION}$"},
        "patch": yaml.safe_dump(
            [
                {
                    "op": "replace",
                    "path": "/webhooks/0/namespaceSelector",
                    "value": {
                        "matchExpressions": [{"key": TENANT_LABEL_KEY, "operator": "Exists"}]
                    },
                }
            ]
        ),
    }


def _config_patch(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "target": {"kind": "ConfigMap", "name": f"^{name}$"},
        "patch": yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
        ),
    }


def tenant_roles() -> list[manifests.Obj]:
    """Tenant tiers on notebooks (view: read; edit: write) and PodDefaults (read only: they
    carry the team's credentials and come from config)."""

    def role(tier: str, rules: list[dict[str, Any]]) -> manifests.Obj:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": manifests.meta(
                f"mlplatform-notebooks-{tier}", **{AGGREGATE_LABEL.format(tier=tier): "true"}
            ),
            "rules": rules,
        }

    return [
        role(
            "view",
            [
                {
                    "apiGroups": ["kubeflow.org"],
                    "resources": ["notebooks", "notebooks/status", "poddefaults"],
                    "verbs": READ,
                }
            ],
        ),
        role("edit", [{"apiGroups": ["kubeflow.org"], "resources": ["notebooks"], "verbs": WRITE}]),
    ]


def gpu_refusal() -> list[manifests.Obj]:
    """A Notebook in a tenant namespace may not ask for any GPU (or other accelerator)."""
    gpu = "k.endsWith('/gpu') || k == 'habana.ai/gaudi'"
    asks = (
        f"(has(c.resources.limits) && c.resources.limits.exists(k, {gpu})) || "
        f"(has(c.resources.requests) && c.resources.requests.exists(k, {gpu}))"
    )
    expression = (
        "!has(object.spec.template.spec.containers) || "
        f"!object.spec.template.spec.containers.exists(c, has(c.resources) && ({asks}))"
    )
    api = "admissionregistration.k8s.io/v1"
    return [
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": manifests.meta(GPU_POLICY),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": {
                        "matchExpressions": [{"key": TENANT_LABEL_KEY, "operator": "Exists"}]
                    },
                    "resourceRules": [
                        {
                            "apiGroups": ["kubeflow.org"],
                            "apiVersions": ["*"],
                            "resources": ["notebooks"],
                            "operations": ["CREATE", "UPDATE"],
                        }
                    ],
                },
                "validations": [{"expression": expression, "message": GPU_MESSAGE}],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": manifests.meta(GPU_POLICY),
            "spec": {"policyName": GPU_POLICY, "validationActions": ["Deny"]},
        },
    ]


def network_policies() -> list[manifests.Obj]:
    """In `kubeflow`: the gateway reaches the web app, the API server the PodDefault webhook."""
    gateway = netpol.gateway_peer()
    istiod = netpol.peer(netpol.ISTIOD["namespace"], netpol.ISTIOD["pods"])
    return [
        netpol.allow_from(
            "notebooks-from-ingress-gateway", NAMESPACE, [gateway], [WEB_APP_PORT], WEB_APP_PODS
        ),
        netpol.policy(
            "notebooks-webhook-from-apiserver",
            NAMESPACE,
            pods=WEBHOOK_PODS,
            ingress=[{"ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}],
        ),
        netpol.allow_to("notebooks-to-istiod", NAMESPACE, [istiod], [15012, 15017], WEB_APP_PODS),
    ]


def pod_defaults(
    namespace: str,
    bucket: str | None,
    credentials: str,
    keys: tuple[str, str],
    minio_endpoint: str,
    kfp_api: str | None,
) -> list[manifests.Obj]:
    """The team's PodDefaults: its bucket (`credentials` Secret with the access and secret key
    names `keys`) when it has one, and KFP access when pipelines run."""
    api = "kubeflow.org/v1alpha1"
    out = []
    if bucket:
        out.append(
            {
                "apiVersion": api,
                "kind": "PodDefault",
                "metadata": manifests.meta(BUCKET_PODDEFAULT, namespace),
                "spec": {
                    "desc": f"Team bucket {bucket} (S3 on the platform MinIO)",
                    "selector": {"matchLabels": {BUCKET_PODDEFAULT: "true"}},
                    "env": [
                        {"name": "AWS_ENDPOINT_URL", "value": f"http://{minio_endpoint}"},
                        {"name": "S3_ENDPOINT_URL", "value": f"http://{minio_endpoint}"},
                        {"name": "S3_BUCKET", "value": bucket},
                        *(
                            {
                                "name": name,
                                "valueFrom": {"secretKeyRef": {"name": credentials, "key": key}},
                            }
                            for name, key in zip(
                                ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), keys, strict=True
                            )
                        ),
                    ],
                },
            }
        )
    if kfp_api is None:
        return out
    out.append(
        {
            "apiVersion": api,
            "kind": "PodDefault",
            "metadata": manifests.meta(PIPELINES_PODDEFAULT, namespace),
            "spec": {
                "desc": "Kubeflow Pipelines as the notebook's ServiceAccount",
                "selector": {"matchLabels": {PIPELINES_PODDEFAULT: "true"}},
                "env": [
                    {"name": "KF_PIPELINES_ENDPOINT", "value": f"http://{kfp_api}"},
                    {
                        "name": "KF_PIPELINES_SA_TOKEN_PATH",
                        "value": f"{PIPELINES_TOKEN_DIR}/token",
                    },
                ],
                "volumes": [
                    {
                        "name": "kfp-token",
                        "projected": {
                            "sources": [
                                {
                                    "serviceAccountToken": {
                                        "audience": PIPELINES_AUDIENCE,
                                        "expirationSeconds": 7200,
                                        "path": "token",
                                    }
                                }
                            ]
                        },
                    }
                ],
                "volumeMounts": [
                    {"name": "kfp-token", "mountPath": PIPELINES_TOKEN_DIR, "readOnly": True}
                ],
            },
        }
    )
    return out
