"""Gateway API routing objects: a weighted HTTPRoute through the platform's inference Gateway
(mlplatform.components.gateway_api), the tenant's NetworkPolicy admitting that Gateway's
proxy, and the in-tenant Job counting answers per backend (scenarios.traffic_split)."""

from __future__ import annotations

from dataclasses import dataclass

from mlplatform import netpol
from mlplatform.components import gateway_api
from mlplatform.manifests import Obj, meta
from mlplatform.releases import Release
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels, queued_job

BACKEND_HEADER = "x-mlplatform-backend"
PREDICTOR_PORT = 80  # KServe's Standard-mode predictor Service port (-> container 8080)


@dataclass(frozen=True)
class Backend:
    service: str
    weight: int
    tag: str  # the BACKEND_HEADER value its answers carry


def http_route(release: Release, name: str, namespace: str, hostname: str,
               backends: list[Backend]) -> Obj:  # fmt: skip
    """One rule splitting every request across `backends` by weight, each answer tagged."""
    api = release.component("gateway_api").api("gateway")
    parent = {
        "group": api.split("/")[0],
        "kind": "Gateway",
        "namespace": gateway_api.NAMESPACE,
        "name": gateway_api.GATEWAY,
        "sectionName": gateway_api.LISTENER,
    }
    refs = [
        {
            "name": b.service,
            "port": PREDICTOR_PORT,
            "weight": b.weight,
            "filters": [
                {
                    "type": "ResponseHeaderModifier",
                    "responseHeaderModifier": {"set": [{"name": BACKEND_HEADER, "value": b.tag}]},
                }
            ],
        }
        for b in backends
    ]
    return {
        "apiVersion": api,
        "kind": "HTTPRoute",
        "metadata": meta(name, namespace),
        "spec": {
            "parentRefs": [parent],
            "hostnames": [hostname],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": refs}
            ],
        },
    }


def allow_from_inference_gateway(namespace: str, port: int) -> Obj:
    """The tenant admits the inference Gateway's proxy to its pods on `port`."""
    gw = netpol.peer(gateway_api.NAMESPACE, gateway_api.POD_LABELS)
    return netpol.allow_from("allow-from-inference-gateway", namespace, [gw], [port])


def split_job(name: str, namespace: str, queue: str, image: str, hostname: str, path: str,
              requests: int) -> Obj:  # fmt: skip
    """`requests` predict posts through the Gateway's Service with the route's hostname."""
    probe = Container(
        "split", image, ["python", "-m", "mlplatform.scenarios.traffic_split"],
        ["--url", f"http://{gateway_api.SERVICE_HOST}:{gateway_api.PORT}{path}",
         "--host", hostname, "--header", BACKEND_HEADER, "--requests", str(requests)],
        Size(cpu="100m", memory="128Mi"),
    )  # fmt: skip
    return queued_job(name, namespace, pod_spec([probe]), queue_labels(queue), deadline_s=600)
