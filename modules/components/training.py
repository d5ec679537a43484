"""Training: Training Operator v1 (PyTorchJob) and, where the release ships it, Trainer v2.

The operator is the upstream kustomize app (composed with overlays/upstream/training-operator)
in the shared `kubeflow` namespace; Trainer v2
is the upstream OCI chart in `kubeflow-system` with JobSet as its subchart; its default
ClusterTrainingRuntimes (`torch-distributed`, ...) are the catalogue's `trainer_runtimes` app,
since chart 2.1.0 ships none (no `runtimes.*` values, no runtime templates). Version skew
between Trainer releases (where `numProcPerNode` lives) is a catalogue fact, exported for the
scenarios.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.netpol import PROMETHEUS, peer

TRAINER_NAMESPACE = "kubeflow-system"
# Training Operator v1.9: pod label, unnamed metrics port, webhook port (manifests/base).
OPERATOR_PODS = {"control-plane": "kubeflow-training-operator"}
OPERATOR_METRICS_PORT = 8080
OPERATOR_WEBHOOK_PORT = 9443
# Trainer and its JobSet subchart both serve admission webhooks on 9443.
TRAINER_WEBHOOK_PORT = 9443
DEFAULT_RUNTIME = "torch-distributed"


class Training(PlatformComponent):
    """Outputs `trainer` (bool), `num_proc_per_node_in` (runtime|trainjob|None), `runtime`."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource | None,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("training:Training", "training", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.training
        if cfg.operator:
            self.operator = self.kustomize_overlay("training-operator", "training_operator", {})
            self.operator_extras = self.objects("training-operator-extras", operator_objects(ctx))
        self.trainer = cfg.trainer_on(ctx.config.release)
        self.num_proc_per_node_in: str | None = None
        if self.trainer:
            entry = ctx.component("trainer")
            self.num_proc_per_node_in = entry.num_proc_per_node_in
            base = self.objects(
                "trainer-namespace",
                [
                    manifests.namespace(TRAINER_NAMESPACE, "baseline"),
                    *netpol.baseline(TRAINER_NAMESPACE, self.ctx.config.network.api_server_cidrs),
                    netpol.allow_webhooks(TRAINER_NAMESPACE, [TRAINER_WEBHOOK_PORT]),
                ],
            )
            self.trainer_chart = self.chart(
                "kubeflow-trainer",
                "trainer",
                TRAINER_NAMESPACE,
                trainer_values(ctx),
                depends_on=[base],
            )
            # After the chart: its CRDs, and its webhook that validates the runtimes.
            self.runtimes = self.kustomize(
                "trainer-runtimes", "trainer_runtimes", depends_on=[self.trainer_chart]
            )
        self.runtime = DEFAULT_RUNTIME if self.trainer else None
        self.register_outputs(
            {
                "trainer": self.trainer,
                "num_proc_per_node_in": self.num_proc_per_node_in,
                "runtime": self.runtime,
            }
        )


def trainer_values(ctx: Context) -> dict[str, object]:
    """Trainer's chart values: JobSet installed as its subchart, both controllers bounded."""
    cfg = ctx.config.components.training
    return {
        "manager": {"resources": cfg.trainer_resources.as_k8s()},
        "jobset": {"install": True, "controller": {"resources": cfg.jobset_resources.as_k8s()}},
    }


def operator_objects(ctx: Context) -> list[manifests.Obj]:
    """The operator's webhook and scrape allows in `kubeflow`, and its PodMonitor."""
    objs = [
        netpol.policy(
            "training-operator-webhooks",
            KUBEFLOW,
            pods=OPERATOR_PODS,
            ingress=[{"ports": [{"protocol": "TCP", "port": OPERATOR_WEBHOOK_PORT}]}],
        )
    ]
    if ctx.config.components.monitoring.enabled:
        objs += [
            netpol.policy(
                "training-operator-scrape",
                KUBEFLOW,
                pods=OPERATOR_PODS,
                ingress=[
                    {
                        "from": [peer(PROMETHEUS["namespace"], PROMETHEUS["pods"])],
                        "ports": [{"protocol": "TCP", "port": OPERATOR_METRICS_PORT}],
                    }
                ],
            ),
            {
                "apiVersion": ctx.component("monitoring").api("monitoring"),
                "kind": "PodMonitor",
                "metadata": manifests.meta("training-operator", KUBEFLOW),
                "spec": {
                    "selector": {"matchLabels": OPERATOR_PODS},
                    "podMetricsEndpoints": [
                        {"targetPort": OPERATOR_METRICS_PORT, "path": "/metrics"}
                    ],
                },
            },
        ]
    return objs
