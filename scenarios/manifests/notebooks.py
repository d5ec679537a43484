"""A Notebook as the platform's Jupyter web app writes it, and a connect probe at its Service."""

from __future__ import annotations

import yaml

from mlplatform.components import notebooks
from mlplatform.manifests import Obj
from mlplatform.releases import Release
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels, queued_job

# The controller's Service `<name>` serves port 80 (DefaultServingPort) and its VirtualService
# routes prefix `/notebook/<ns>/<name>/` (kubeflow/kubeflow v1.10.0 components/
# notebook-controller/controllers/notebook_controller.go generateService, generateVirtualService);
# Jupyter's base_url is that prefix (NB_PREFIX, example-notebook-servers/jupyter/s6/services.d/
# jupyterlab/run, which also disables Jupyter's own token: the gateway is the only lock).
SERVICE_PORT = 80
POD_LABEL = "notebook-name"  # on the StatefulSet's pods (generateStatefulSet)
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}


def path(namespace: str, name: str) -> str:
    return f"/notebook/{namespace}/{name}/api/status"


def notebook(
    release: Release, name: str, namespace: str, image: str, size: Size, creator: str
) -> Obj:
    """The spawner's Notebook (notebooks.notebook_template: Pod Security restricted) with the
    image and the requests = limits of `size`, at the catalogue's API version; no workspace
    volume (nothing to clean up but the Notebook)."""
    nb: Obj = yaml.safe_load(
        notebooks.notebook_template().format(
            name=name, namespace=namespace, serviceAccount="default-editor", creator=creator
        )
    )
    nb["apiVersion"] = release.component("notebook_controller").api("notebooks")
    (container,) = nb["spec"]["template"]["spec"]["containers"]
    container["image"] = image
    container["resources"] = size.resources()
    # The pod-level settings, repeated per container as every scenario container states them.
    container["securityContext"].update(
        {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    )
    return nb


def connect_probe(name: str, namespace: str, queue: str, image: str, host: str) -> Obj:
    """Succeeds only when a TCP connect to host:SERVICE_PORT fails. Outside the mesh: a sidecar
    would accept the connect locally and hide what the network allows."""
    probe = Container(
        "probe", image, ["python", "-m", "mlplatform.scenarios.probe"],
        ["--host", host, "--port", str(SERVICE_PORT), "--expect", "blocked", "--timeout", "5"],
        Size(cpu="50m", memory="64Mi"),
    )  # fmt: skip
    return queued_job(
        name,
        namespace,
        pod_spec([probe]),
        queue_labels(queue),
        deadline_s=120,
        pod_labels=NO_SIDECAR,
    )
