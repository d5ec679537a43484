"""Strict checks of scenario custom resources against typed upstream Python models.

- kubeflow.org PyTorchJob: `kubeflow-training` (openapi models, kubernetes-client style)
- serving.kserve.io InferenceService / ServingRuntime: `kserve` (same style)
- trainer.kubeflow.org TrainJob / TrainingRuntime: `kubeflow-trainer-api` (pydantic)

The generated models ignore unknown keys, so each walk reports every key the model does
not declare and every primitive of the wrong type, recursively; the pydantic models also
validate the whole object (types, required fields).
Embedded pod templates are also validated against the core schema (kubernetes-validate).
"""

from __future__ import annotations

import types
import typing
from typing import Any

import kserve
import kubernetes.client
from kubeflow.training import models as training_models
from kubeflow_trainer_api import models as trainer_models
from pydantic import BaseModel

from mlplatform.scenarios.manifests.pods import all_pod_specs
from tests.schema import problems as core_problems

_OPENAPI_MODULES = (kserve, training_models, kubernetes.client)
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (int, float),
    "object": (object,),
    "datetime": (str,),
    "date": (str,),
}


def _openapi_class(name: str) -> Any:
    for module in _OPENAPI_MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(f"no model class {name}")


def openapi_unknown(data: Any, type_name: str, where: str = "") -> list[str]:
    """Keys in `data` that the openapi model `type_name` does not declare (recursive)."""
    if type_name in _PRIMITIVES:
        ok = isinstance(data, _PRIMITIVES[type_name])
        if type_name in ("int", "float") and isinstance(data, bool):
            ok = False
        return [] if ok else [f"{where}: {data!r} is not {type_name}"]
    if type_name.startswith("list["):
        inner = type_name[5:-1]
        if not isinstance(data, list):
            return [f"{where}: expected a list"]
        return [p for i, v in enumerate(data) for p in openapi_unknown(v, inner, f"{where}[{i}]")]
    if type_name.startswith("dict("):
        inner = type_name[5:-1].split(", ", 1)[1]
        if not isinstance(data, dict):
            return [f"{where}: expected a map"]
        return [p for k, v in data.items() for p in openapi_unknown(v, inner, f"{where}.{k}")]
    klass = _openapi_class(type_name)
    if not isinstance(data, dict):
        return [f"{where}: expected an object ({type_name})"]
    by_json = {j: a for a, j in klass.attribute_map.items()}
    found = []
    for key, value in data.items():
        if key not in by_json:
            found.append(f"{where}.{key}: not a field of {type_name}")
        else:
            found += openapi_unknown(value, klass.openapi_types[by_json[key]], f"{where}.{key}")
    return found


def _pydantic_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _pydantic_model(arg)) is not None:
            return found
    return None


def _is(annotation: Any, container: type) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is(a, container) for a in typing.get_args(annotation))
    return origin is container


def pydantic_unknown(data: Any, model: type[BaseModel], where: str = "") -> list[str]:
    if "actual_instance" in model.model_fields:
        return []  # oneOf wrappers (Quantity, IntOrString): from_dict validates them
    if not isinstance(data, dict):
        return [f"{where}: expected an object ({model.__name__})"]
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    found = []
    for key, value in data.items():
        if key not in fields:
            found.append(f"{where}.{key}: not a field of {model.__name__}")
            continue
        inner = _pydantic_model(fields[key].annotation)
        if inner is None or value is None:
            continue
        if _is(fields[key].annotation, dict):
            continue  # maps of quantities/strings: the core pod-template check covers them
        if _is(fields[key].annotation, list):
            for i, item in enumerate(value):
                found += pydantic_unknown(item, inner, f"{where}.{key}[{i}]")
        else:
            found += pydantic_unknown(value, inner, f"{where}.{key}")
    return found


OPENAPI_KINDS = {
    ("kubeflow.org", "PyTorchJob"): "KubeflowOrgV1PyTorchJob",
    ("serving.kserve.io", "InferenceService"): "V1beta1InferenceService",
    ("serving.kserve.io", "ServingRuntime"): "V1alpha1ServingRuntime",
}
PYDANTIC_KINDS: dict[tuple[str, str], type[BaseModel]] = {
    ("trainer.kubeflow.org", "TrainJob"): trainer_models.TrainerV1alpha1TrainJob,
    ("trainer.kubeflow.org", "TrainingRuntime"): trainer_models.TrainerV1alpha1TrainingRuntime,
}
# Trainer 2.1 (catalogue num_proc_per_node_in: runtime) still had the runtime's torch
# numProcPerNode; the newest trainer-api models (2.3) no longer declare it.
LEGACY_TRAINER_FIELDS = {
    ".spec.mlPolicy.torch.numProcPerNode: not a field of TrainerV1alpha1TorchMLPolicySource"
}


_MODEL_ONLY = ("modelFormat", "runtime", "protocolVersion", "storageUri")


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The PodSpecs a workload's pods are made from (KServe objects assembled as KServe does)."""
    spec = obj.get("spec", {})
    if obj["kind"] == "ServingRuntime":
        return [{"containers": spec["containers"], "volumes": spec.get("volumes", [])}]
    if obj["kind"] == "InferenceService":
        predictor = dict(spec["predictor"])
        model = {k: v for k, v in predictor.pop("model").items() if k not in _MODEL_ONLY}
        for key in ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"):
            predictor.pop(key, None)
        return [{**predictor, "containers": [{"name": "kserve-container", **model}]}]
    return all_pod_specs(obj)


def pod_template_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Each embedded PodSpec, checked by the core schema as a v1 PodTemplate."""
    found = []
    for i, spec in enumerate(pod_specs(obj)):
        shell = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "t"},
            "template": {"spec": spec},
        }
        found += [f"podSpec[{i}] {p}" for p in core_problems(shell, kubernetes_version)]
    return found


# Katib's Experiment: its CRD keeps unknown fields and no Python model package fits our pins
# (kubeflow-katib pins kubeflow-training==1.9.0 and protobuf<5), so the json tags of its Go
# types are the schema: kubeflow/katib v0.18.0 and v0.19.0 (identical) pkg/apis/controller/
# experiments/v1beta1/experiment_types.go and common/v1beta1/common_types.go. A set lists
# leaf fields; a dict nests; a one-item list is a list of that shape.
_FIELDS = {"name", "value"}
EXPERIMENT_SPEC: dict[str, Any] = {
    "parameters": [{"name": None, "parameterType": None,
                    "feasibleSpace": {"max", "min", "list", "step", "distribution"}}],
    "objective": {"type": None, "goal": None, "objectiveMetricName": None,
                  "additionalMetricNames": None, "metricStrategies": [_FIELDS]},
    "algorithm": {"algorithmName": None, "algorithmSettings": [_FIELDS]},
    "earlyStopping": {"algorithmName": None, "algorithmSettings": [_FIELDS]},
    "trialTemplate": {"retain": None, "trialSpec": None, "primaryPodLabels": None,
                      "configMap": {"configMapName", "configMapNamespace", "templatePath"},
                      "trialParameters": [{"name", "description", "reference"}],
                      "primaryContainerName": None, "successCondition": None,
                      "failureCondition": None},
    "parallelTrialCount": None, "maxTrialCount": None, "maxFailedTrialCount": None,
    "metricsCollectorSpec": {"source": None, "collector": {"kind": None, "customCollector": None}},
    "nasConfig": None, "resumePolicy": None,
}  # fmt: skip


# gateway.networking.k8s.io/v1 HTTPRoute: the v1 schema's properties in gateway-api v1.4.0
# config/crd/standard/gateway.networking.k8s.io_httproutes.yaml (the release's
# standard-install.yaml); the upstream rung validates against the whole schema.
_HEADERS = {"set": [_FIELDS], "add": [_FIELDS], "remove": None}
_HTTP_FILTER = {"type": None, "requestHeaderModifier": _HEADERS,
                "responseHeaderModifier": _HEADERS, "requestMirror": None,
                "requestRedirect": None, "urlRewrite": None, "extensionRef": None}  # fmt: skip
HTTPROUTE_SPEC: dict[str, Any] = {
    "parentRefs": [{"group", "kind", "name", "namespace", "port", "sectionName"}],
    "hostnames": None,
    "rules": [{"name": None, "timeouts": None, "filters": [_HTTP_FILTER],
               "matches": [{"path": {"type", "value"}, "headers": None, "queryParams": None,
                            "method": None}],
               "backendRefs": [{"group": None, "kind": None, "name": None, "namespace": None,
                                "port": None, "weight": None, "filters": [_HTTP_FILTER]}]}],
}  # fmt: skip


def shape_unknown(data: Any, shape: Any, where: str = "") -> list[str]:
    """Keys of `data` the shape does not declare (None: anything; set: leaf keys)."""
    if shape is None:
        return []
    if isinstance(shape, list):
        if not isinstance(data, list):
            return [f"{where}: expected a list"]
        return [p for i, v in enumerate(data) for p in shape_unknown(v, shape[0], f"{where}[{i}]")]
    if not isinstance(data, dict):
        return [f"{where}: expected an object"]
    known = shape if isinstance(shape, set) else set(shape)
    found = [f"{where}.{k}: not a field" for k in data if k not in known]
    if isinstance(shape, dict):
        found += [
            p
            for k, v in data.items()
            if k in shape
            for p in shape_unknown(v, shape[k], f"{where}.{k}")
        ]
    return found


def experiment_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """The Experiment's fields, and its trial template as the object Katib creates from it."""
    found = shape_unknown(obj["spec"], EXPERIMENT_SPEC, ".spec")
    trial = obj["spec"]["trialTemplate"]["trialSpec"]
    named = {**trial, "metadata": {**trial.get("metadata", {}), "name": "trial", "namespace": "t"}}
    return found + [f"trialSpec: {p}" for p in problems(named, kubernetes_version)]


def problems(obj: dict[str, Any], kubernetes_version: str, legacy_ok: bool = False) -> list[str]:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    key = (group, obj["kind"])
    if key == ("kubeflow.org", "Experiment"):
        return experiment_problems(obj, kubernetes_version)
    if key == ("gateway.networking.k8s.io", "HTTPRoute"):
        return shape_unknown(obj["spec"], HTTPROUTE_SPEC, ".spec")
    if key == ("kubeflow.org", "Notebook"):  # spec: a pod template (v1beta1/v1 notebook_types.go)
        found = shape_unknown(obj["spec"], {"template": {"spec"}}, ".spec")
        return found + pod_template_problems(obj, kubernetes_version)
    if key in OPENAPI_KINDS:
        name = OPENAPI_KINDS[key]
        found = openapi_unknown(obj, name)
    elif key in PYDANTIC_KINDS:
        model = PYDANTIC_KINDS[key]
        found = pydantic_unknown(obj, model)
        if legacy_ok:
            found = [p for p in found if p not in LEGACY_TRAINER_FIELDS]
        try:
            model.from_dict(obj)
        except ValueError as e:
            found.append(f"{model.__name__}: {e}")
    else:
        return core_problems(obj, kubernetes_version)
    return found + pod_template_problems(obj, kubernetes_version)
