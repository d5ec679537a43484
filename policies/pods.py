"""Find the pod templates and containers inside workloads, core and custom kinds alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlplatform import mirror
from mlplatform.policies.core import View

_TEMPLATE = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_ISVC_COMPONENTS = ("predictor", "transformer", "explainer")


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec inside a workload; `where` names it when a workload has several."""

    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    where: str = ""
    # Set when the pods' security context comes from elsewhere (a TrainJob's runtime).
    security_from: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Container:
    spec: Mapping[str, Any]
    template: PodTemplate
    list_key: str = "containers"

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "?")

    @property
    def label(self) -> str:
        """`container 'app'`, or `container 'pytorch' in Worker` in multi-template workloads."""
        where = f" in {self.template.where}" if self.template.where else ""
        return f"container '{self.name}'{where}"

    @property
    def security(self) -> Mapping[str, Any]:
        return self.spec.get("securityContext") or {}

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.spec.get("resources") or {}


def _template(t: Mapping[str, Any] | None, where: str = "") -> list[PodTemplate]:
    if not t:
        return []
    meta = t.get("metadata") or {}
    return [
        PodTemplate(
            t.get("spec") or {},
            meta.get("labels") or {},
            where,
            annotations=meta.get("annotations") or {},
        )
    ]


def _jobset_templates(jobset_spec: Mapping[str, Any]) -> list[PodTemplate]:
    found = []
    for rj in jobset_spec.get("replicatedJobs") or []:
        job = (rj.get("template") or {}).get("spec") or {}
        found += _template(job.get("template"), f"replicatedJobs[{rj.get('name', '?')}]")
    return found


def _isvc_templates(spec: Mapping[str, Any]) -> list[PodTemplate]:
    found = []
    for component in _ISVC_COMPONENTS:
        c = spec.get(component)
        if not c:
            continue
        containers = list(c.get("containers") or [])
        model = c.get("model")
        if model:
            containers.insert(0, {"name": "kserve-container", **model})
        found.append(PodTemplate({**c, "containers": containers}, {}, component))
    return found


def _trainjob_templates(spec: Mapping[str, Any]) -> list[PodTemplate]:
    trainer = spec.get("trainer")
    if not trainer:
        return []
    container = {
        "name": "trainer",
        **{k: trainer[k] for k in ("image", "env", "command", "args") if k in trainer},
        "resources": trainer.get("resourcesPerNode") or {},
    }
    runtime = (spec.get("runtimeRef") or {}).get("name", "?")
    return [PodTemplate({"containers": [container]}, {}, "trainer", f"runtime {runtime}")]


def pod_templates(view: View) -> list[PodTemplate]:
    """Every pod spec a workload creates pods from (empty for non-workloads)."""
    kind, spec = view.kind, view.spec
    if kind == "Pod":
        return [PodTemplate(spec, view.labels, annotations=view.metadata.get("annotations") or {})]
    if kind in _TEMPLATE:
        return _template(spec.get("template"))
    if kind == "CronJob":
        return _template(((spec.get("jobTemplate") or {}).get("spec") or {}).get("template"))
    if kind == "JobSet":
        return _jobset_templates(spec)
    if kind in ("TrainingRuntime", "ClusterTrainingRuntime"):
        return _jobset_templates((spec.get("template") or {}).get("spec") or {})
    if kind == "TrainJob":
        return _trainjob_templates(spec)
    if kind == "InferenceService":
        return _isvc_templates(spec)
    found = []
    for key, replicas in spec.items():  # PyTorchJob, TFJob, ...: <framework>ReplicaSpecs
        if key.endswith("ReplicaSpecs") and isinstance(replicas, Mapping):
            for role, rs in replicas.items():
                found += _template((rs or {}).get("template"), role)
    return found


def containers(view: View, security: bool = False) -> Iterator[Container]:
    """Containers of a workload; `security=True` skips those whose security context lives
    elsewhere (a TrainJob's runtime carries it, and is checked as its own resource)."""
    for t in pod_templates(view):
        if security and t.security_from:
            continue
        for key in _CONTAINER_LISTS:
            for c in t.spec.get(key) or []:
                yield Container(c, t, key)


def images(value: Any) -> Iterator[str]:
    """Every string under an `image` key at any depth (what the mirror transform rewrites)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "image" and isinstance(v, str) and v:
                yield v
            else:
                yield from images(v)
    elif isinstance(value, list):
        for v in value:
            yield from images(v)


# Istio's sidecar injector fills in a container named `istio-proxy` whose image is the literal
# "auto" with the proxy image of its injection template (istio/istio pkg/kube/inject/inject.go,
# `AutoImage`): image is a required field, so a pod that customises its proxy names a
# placeholder. The gateway chart does exactly that (istio gateway chart 1.26.1-1.29.1
# templates/deployment.yaml `image: auto`) on pods labelled `sidecar.istio.io/inject: "true"`,
# the label istiod's webhook selects objects by (istiod chart templates/mutatingwebhook.yaml
# objectSelector), and annotated `inject.istio.io/templates: gateway` (gateway values.yaml
# podAnnotations), the template that supplies the image.
ISTIO_AUTO_IMAGE = mirror.ISTIO_AUTO_IMAGE
ISTIO_PROXY = "istio-proxy"
ISTIO_INJECT_LABEL = "sidecar.istio.io/inject"
ISTIO_TEMPLATES_ANNOTATION = "inject.istio.io/templates"


def injector_placeholder(c: Container) -> bool:
    """An `image: auto` Istio's injector replaces at admission (never pulled as written)."""
    t = c.template
    templates = str(t.annotations.get(ISTIO_TEMPLATES_ANNOTATION) or "")
    return (
        c.list_key == "containers"
        and c.name == ISTIO_PROXY
        and c.spec.get("image") == ISTIO_AUTO_IMAGE
        and str(t.labels.get(ISTIO_INJECT_LABEL)) == "true"
        and any(name.strip() for name in templates.split(","))
    )


def pulled_images(view: View) -> list[str]:
    """Distinct images the nodes pull: `images`, less Istio's injector placeholders."""
    found = list(images(view.props))
    for c in containers(view):
        if injector_placeholder(c) and ISTIO_AUTO_IMAGE in found:
            found.remove(ISTIO_AUTO_IMAGE)
    return list(dict.fromkeys(found))
