"""Serving config: KServe (standard or knative mode) and its runtimes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from mlplatform.config.base import Model, ResourceList, Resources, problem

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig

RuntimeName = Literal[
    "sklearn",
    "xgboost",
    "lightgbm",
    "mlserver",
    "huggingface",
    "tensorflow",
    "torchserve",
    "triton",
    "pmml",
    "paddle",
]


@dataclass(frozen=True)
class Runtime:
    """One of KServe's chart runtimes: its `kserve.servingruntime.<chart_key>` values block
    and the ClusterServingRuntimes it renders."""

    chart_key: str
    objects: tuple[str, ...]


# Our runtime names -> KServe's (kserve/kserve charts/kserve-resources/templates/
# clusterservingruntimes.yaml, the same names at v0.15.0, v0.15.2 and v0.16.0). From 0.16
# `<chart_key>.disabled` switches them; `huggingfaceserver.disabled` also switches the multinode
# runtime, which has no switch of its own.
RUNTIMES: dict[RuntimeName, Runtime] = {
    "sklearn": Runtime("sklearnserver", ("kserve-sklearnserver",)),
    "xgboost": Runtime("xgbserver", ("kserve-xgbserver",)),
    "lightgbm": Runtime("lgbserver", ("kserve-lgbserver",)),
    "mlserver": Runtime("mlserver", ("kserve-mlserver",)),
    "huggingface": Runtime(
        "huggingfaceserver", ("kserve-huggingfaceserver", "kserve-huggingfaceserver-multinode")
    ),
    "tensorflow": Runtime("tensorflow", ("kserve-tensorflow-serving",)),
    "torchserve": Runtime("torchserve", ("kserve-torchserve",)),
    "triton": Runtime("tritonserver", ("kserve-tritonserver",)),
    "pmml": Runtime("pmmlserver", ("kserve-pmmlserver",)),
    "paddle": Runtime("paddleserver", ("kserve-paddleserver",)),
}
# ModelMesh was removed: its last release (v0.12.0, repository archived April 2026) cannot be
# installed correctly beside the platform's KServe. Its config/default ships the
# InferenceService, ServingRuntime and ClusterServingRuntime CRDs "Copied from
# https://github.com/kserve/kserve/blob/v0.12.0" (kserve/modelmesh-serving v0.12.0,
# config/crd/bases), which would replace KServe's own; it puts its webhook Service,
# Certificate and Issuer in a namespace `system` and leaves controller RBAC and runtimes to
# scripts/install.sh; and it needs an etcd (Secret `model-serving-etcd`) the platform does not run.
MODELMESH_REMOVED = (
    "modelmesh was removed from the platform: ModelMesh Serving was archived upstream in "
    "April 2026 and its last release (v0.12.0) ships KServe 0.12's CRDs and needs an etcd; "
    "serve models with KServe InferenceServices (serving.mode) and delete this key"
)


class Serving(Model):
    enabled: bool = True
    mode: str = Field(
        "standard", description="a deployment mode of the release's KServe: standard or knative"
    )
    runtimes: list[RuntimeName] = ["sklearn", "xgboost", "lightgbm"]
    # The chart's own defaults (kserve.controller.resources and .rbacProxy.resources, 0.15/0.16).
    controller_resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="300Mi"),
        limits=ResourceList(cpu="100m", memory="300Mi"),
    )
    rbac_proxy_resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="300Mi"),
        limits=ResourceList(cpu="100m", memory="300Mi"),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_modelmesh(cls, data: Any) -> Any:
        if isinstance(data, dict) and "modelmesh" in data:
            raise ValueError(MODELMESH_REMOVED)
        return data

    @model_validator(mode="after")
    def _unique_runtimes(self) -> Serving:
        seen: list[str] = []
        for i, name in enumerate(self.runtimes):
            if name in seen:
                raise problem(("runtimes", i), f"{name!r} is already runtimes.{seen.index(name)}")
            seen.append(name)
        return self


def release_problems(config: PlatformConfig) -> list[str]:
    """Serving settings the chosen release cannot honour, one line per problem."""
    serving = config.components.serving
    if not serving.enabled:
        return []
    path = "platform.components.serving"
    release = config.catalogue
    if not release.has("kserve"):
        return [f"{path}.enabled: release {release.release} ships no KServe; set enabled: false"]
    modes = release.component("kserve").deployment_modes or {}
    problems = []
    if serving.mode not in modes:
        named = ", ".join(f"{ours} (KServe {theirs})" for ours, theirs in modes.items())
        problems.append(
            f"{path}.mode: {serving.mode!r} is not a deployment mode of release "
            f"{release.release}; choose one of: {named or 'none'}"
        )
    if serving.mode == "knative" and not release.has("knative_serving"):
        problems.append(f"{path}.mode: release {release.release} pins no Knative Serving")
    if serving.mode == "knative" and not config.components.istio.enabled:
        problems.append(f"{path}.mode: knative mode needs components.istio (net-istio)")
    return problems
