"""The Kubernetes Gateway API for inference: the standard-channel CRDs (catalogue component
`gateway_api`, installed by the Istio component before istiod) and the platform's internal
inference Gateway, which istiod's Gateway API controller (class `istio`) deploys and programs.

The inference Gateway is internal: a ClusterIP Service, plain HTTP on port 80, reachable only
from tenant namespaces (NetworkPolicy) and accepting HTTPRoutes only from namespaces carrying
the tenant label. It carries no oauth2-proxy ext-authz: nothing outside the cluster reaches it,
so it is no way around the platform gateway's login. Its proxy has its own identity
(GATEWAY_PRINCIPAL), which no tenant's `tenant-access` AuthorizationPolicy admits: sidecar
workloads of real tenants refuse it unless the tenant model grants it.

istiod names the Deployment, Service and ServiceAccount `<gateway>-<class>` and labels the
pods `gateway.networking.k8s.io/gateway-name: <gateway>` (istio/istio 1.28.0 and 1.29.1,
pilot/pkg/config/kube/gateway/conversion.go getDefaultName, files/kube-gateway.yaml); it
overlays the `service` key of the ConfigMap a Gateway's `infrastructure.parametersRef` names
on the Service it makes (deploymentcontroller.go applyOverlay). The older
`networking.istio.io/service-type` annotation marks the Gateway not Accepted (DeprecatedField).
"""

from __future__ import annotations

from typing import Any

from mlplatform import manifests, netpol
from mlplatform.manifests import Obj

NAMESPACE = "istio-system"
TENANT_LABEL = "mlplatform.io/tenant"  # = tenancy.objects.TENANT_LABEL (tenancy imports istio)
GATEWAY = "mlplatform-inference"
CLASS = "istio"
LISTENER = "http"
PORT = 80
PARAMETERS = f"{GATEWAY}-params"
DEPLOYED = f"{GATEWAY}-{CLASS}"  # istiod's Deployment / Service / ServiceAccount name
POD_LABELS = {"gateway.networking.k8s.io/gateway-name": GATEWAY}
SERVICE_HOST = f"{DEPLOYED}.{NAMESPACE}.svc.cluster.local"
GATEWAY_PRINCIPAL = f"cluster.local/ns/{NAMESPACE}/sa/{DEPLOYED}"
TENANT_NAMESPACES = {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
TENANT_PODS = {"namespaceSelector": TENANT_NAMESPACES, "podSelector": {}}


def inference_gateway(api: str) -> list[Obj]:
    """The Gateway and the ConfigMap that keeps its Service internal (ClusterIP)."""
    params = manifests.meta(PARAMETERS, NAMESPACE)
    overlay = "spec:\n  type: ClusterIP\n"
    gateway: dict[str, Any] = {
        "apiVersion": api,
        "kind": "Gateway",
        "metadata": manifests.meta(GATEWAY, NAMESPACE),
        "spec": {
            "gatewayClassName": CLASS,
            "infrastructure": {
                "parametersRef": {"group": "", "kind": "ConfigMap", "name": PARAMETERS}
            },
            "listeners": [
                {
                    "name": LISTENER,
                    "port": PORT,
                    "protocol": "HTTP",
                    "allowedRoutes": {
                        "kinds": [{"group": api.split("/")[0], "kind": "HTTPRoute"}],
                        "namespaces": {"from": "Selector", "selector": TENANT_NAMESPACES},
                    },
                }
            ],
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": params, "data": {"service": overlay}},
        gateway,
    ]


def network_policies() -> list[Obj]:
    """Tenant pods reach the Gateway's listener; its proxy reaches tenant pods only."""
    return [
        netpol.allow_from(
            "allow-inference-gateway-ingress", NAMESPACE, [TENANT_PODS], [PORT],
            pods=POD_LABELS,
        ),
        netpol.allow_to(
            "allow-inference-gateway-egress", NAMESPACE, [TENANT_PODS], [],
            POD_LABELS,
        ),
    ]  # fmt: skip
