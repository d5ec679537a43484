"""metrics-server config: the resource metrics API (`metrics.k8s.io`) HorizontalPodAutoscalers
read (KServe's Standard-mode InferenceServices scale on CPU through one).

The kubelets' serving certificates are verified by default: upstream requires them "signed by
cluster Certificate Authority (or disable certificate validation by passing
`--kubelet-insecure-tls`)" (kubernetes-sigs/metrics-server README, "Requirements"), which holds
with kubeadm's `serverTLSBootstrap` and on managed clusters. kind's kubelets serve self-signed
certificates, so the dev stack alone sets `kubeletInsecureTls`; anywhere else it is warned about
(`warnings`), not refused, since a kind cluster may carry another environment name.
"""

from __future__ import annotations

from pydantic import Field

from mlplatform.config.base import Model, Replicas, ResourceList, Resources

# Environments where an unverified kubelet certificate is expected (kind, laptops).
DEV_ENVIRONMENTS = ("dev",)


class MetricsServer(Model):
    enabled: bool = True
    replicas: Replicas = 1
    kubelet_insecure_tls: bool = Field(
        False,
        description="skip verifying the kubelets' serving certificates (kind's are self-signed); "
        "dev only",
    )
    # Upstream's defaults, good up to 100 nodes (kubernetes-sigs/metrics-server README
    # "Scaling", tag metrics-server-helm-chart-3.13.0).
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="200Mi"),
        limits=ResourceList(cpu="1", memory="512Mi"),
    )


def warnings(environment: str, cfg: MetricsServer) -> list[str]:
    """Legal but doubtful metrics-server settings, one line each."""
    if cfg.enabled and cfg.kubelet_insecure_tls and environment not in DEV_ENVIRONMENTS:
        return [
            f"platform.components.metricsServer.kubeletInsecureTls: true in environment "
            f"{environment!r}: metrics-server trusts any kubelet certificate (meant for kind's "
            "self-signed ones); have kubelets serve CA-signed certificates and remove it"
        ]
    return []
