"""Serving: KServe (CRD chart, then controller chart), and Knative Serving in knative mode.

The deployment mode name KServe understands comes from the catalogue (`RawDeployment` /
`Serverless` before 0.16, `Standard` / `Knative` after). ClusterServingRuntimes are the
chart's own; config only switches each one on or off: through the chart's values where the
chart has the switches (0.16), else by setting `spec.disabled` on the chart's objects.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import istio
from mlplatform.config.serving import RUNTIMES, RuntimeName
from mlplatform.releases import Component

NAMESPACE = "kserve"
KNATIVE_NAMESPACE = "knative-serving"
CONTROLLER_LABELS = {"control-plane": "kserve-controller-manager"}
WEBHOOK_PORT = 9443  # the controller's webhook-server container port (Service 443 -> 9443)
METRICS_PORT = 8443  # kube-rbac-proxy in front of the controller's 127.0.0.1:8080 metrics
GATEWAY_SERVICE = f"{istio.GATEWAY_RELEASE}.{istio.NAMESPACE}.svc.cluster.local"
# Our objects that share a name with upstream ConfigMaps are server-side-applied over them.
_PATCH = {"pulumi.com/patchForce": "true"}
# KServe's chart switches its runtimes with `kserve.servingruntime.<key>.disabled` from 0.16
# (kserve/kserve v0.16.0 charts/kserve-resources/templates/clusterservingruntimes.yaml); the
# v0.15.0 and v0.15.2 templates read no such key and render every runtime enabled.
CHART_SWITCHES_RUNTIMES_FROM = (0, 16)


class Serving(PlatformComponent):
    """Outputs `deployment_mode`: the mode name KServe's controller was given."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        transforms = runtime_transforms(
            ctx.component("kserve"), ctx.config.components.serving.runtimes
        )
        opts = pulumi.ResourceOptions(transforms=transforms) if transforms else None
        super().__init__("serving:Serving", "serving", ctx, depends_on, opts)
        cfg = ctx.config.components.serving
        kserve = ctx.component("kserve")
        helm = kserve.source.helm
        if helm is None or helm.crds_chart is None or kserve.deployment_modes is None:
            raise ValueError("catalogue: kserve needs a Helm source with crds_chart and modes")
        self.deployment_mode = kserve.deployment_modes[cfg.mode]  # type: ignore[index]

        base = self.objects("kserve-base", base_objects(ctx.config.network.api_server_cidrs))
        crds = self.chart(
            "kserve-crd", "kserve", NAMESPACE, {}, chart=helm.crds_chart, depends_on=[base]
        )
        before_controller: list[pulumi.Resource] = [base, crds]
        if cfg.mode == "knative":
            self.knative = self.manifests("knative-serving", "knative_serving")
            self.knative_config = self.objects(
                "knative-serving-config", knative_objects(ctx), depends_on=[self.knative]
            )
            before_controller += [self.knative, self.knative_config]
        self.helm = self.chart(
            "kserve", "kserve", NAMESPACE, kserve_values(ctx), depends_on=before_controller
        )
        if ctx.config.components.monitoring.enabled:
            monitoring_api = ctx.component("monitoring").api("monitoring")
            self.monitors = self.objects(
                "kserve-monitors", [controller_monitor(monitoring_api)], depends_on=[self.helm]
            )
        self.register_outputs({"deployment_mode": self.deployment_mode})


def base_objects(api_server_cidrs: Sequence[str] = ()) -> list[manifests.Obj]:
    """The kserve namespace (restricted) and its NetworkPolicies."""
    return [
        manifests.namespace(NAMESPACE, "restricted"),
        *netpol.baseline(NAMESPACE, api_server_cidrs),
        netpol.allow_webhooks(NAMESPACE, [WEBHOOK_PORT], CONTROLLER_LABELS),
        netpol.allow_prometheus_scrape(NAMESPACE, [METRICS_PORT]),
    ]


def chart_switches_runtimes(kserve_version: str) -> bool:
    """Whether this KServe chart version switches its runtimes through values."""
    major, minor = (int(p) for p in kserve_version.lstrip("v").split(".")[:2])
    return (major, minor) >= CHART_SWITCHES_RUNTIMES_FROM


def disabled_runtimes(chosen: Sequence[RuntimeName]) -> frozenset[str]:
    """The chart's ClusterServingRuntimes that config does not choose."""
    return frozenset(o for n, r in RUNTIMES.items() if n not in chosen for o in r.objects)


def runtime_transform(api: str, disabled: Set[str]) -> pulumi.ResourceTransform:
    """Sets `spec.disabled: true` on the chart's ClusterServingRuntimes named in `disabled`."""
    token = f"kubernetes:{api}:ClusterServingRuntime"

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        name = (args.props.get("metadata") or {}).get("name")
        if args.type_ != token or name not in disabled:
            return None
        spec = {**(args.props.get("spec") or {}), "disabled": True}
        return pulumi.ResourceTransformResult(props={**args.props, "spec": spec}, opts=args.opts)

    return transform


def runtime_transforms(
    kserve: Component, chosen: Sequence[RuntimeName]
) -> list[pulumi.ResourceTransform]:
    """Serving's transforms (they reach the chart's objects): the runtime switch where the
    chart has none of its own, else nothing."""
    if chart_switches_runtimes(kserve.version):
        return []
    return [runtime_transform(kserve.api("runtimes"), disabled_runtimes(chosen))]


def kserve_values(ctx: Context) -> dict[str, object]:
    """Controller mode and resources, routing through the platform Gateway, and (where the
    chart has the switches) the runtimes switched on."""
    cfg = ctx.config.components.serving
    kserve = ctx.component("kserve")
    modes = kserve.deployment_modes or {}
    values: dict[str, dict[str, object]] = {
        "controller": {
            "deploymentMode": modes[cfg.mode],  # type: ignore[index]
            "gateway": {
                "domain": ctx.config.ingress.domain,
                "urlScheme": "https",
                "ingressGateway": {
                    "className": "istio",
                    "gateway": f"{istio.NAMESPACE}/{istio.PLATFORM_GATEWAY}",
                },
            },
            "resources": cfg.controller_resources.as_k8s(),
            "rbacProxy": {"resources": cfg.rbac_proxy_resources.as_k8s()},
        }
    }
    if chart_switches_runtimes(kserve.version):
        values["servingruntime"] = {
            r.chart_key: {"disabled": name not in cfg.runtimes} for name, r in RUNTIMES.items()
        }
    return {"kserve": values}


def knative_objects(ctx: Context) -> list[manifests.Obj]:
    """Knative routes on the platform domain through the platform Gateway (net-istio)."""

    def config_map(name: str, data: dict[str, str]) -> manifests.Obj:
        md = manifests.meta(name, KNATIVE_NAMESPACE)
        md["annotations"] = _PATCH
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}

    gateway = f"gateway.{istio.NAMESPACE}.{istio.PLATFORM_GATEWAY}"
    return [
        config_map("config-domain", {ctx.config.ingress.domain: ""}),
        config_map("config-istio", {gateway: GATEWAY_SERVICE}),
    ]


def controller_monitor(api: str) -> manifests.Obj:
    """ServiceMonitor for the controller's metrics Service (HTTPS via kube-rbac-proxy)."""
    return {
        "apiVersion": api,
        "kind": "ServiceMonitor",
        "metadata": manifests.meta("kserve-controller-manager", NAMESPACE),
        "spec": {
            "selector": {"matchLabels": CONTROLLER_LABELS},
            "namespaceSelector": {"matchNames": [NAMESPACE]},
            "endpoints": [
                {
                    "port": "https",
                    "scheme": "https",
                    "path": "/metrics",
                    "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                    "tlsConfig": {"insecureSkipVerify": True},
                }
            ],
        },
    }
