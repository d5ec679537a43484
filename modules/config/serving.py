"""Serving config: KServe (standard or knative mode), its runtimes, and deprecated ModelMesh."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from modules.config.base import Model

if TYPE_CHECKING:
    from modules.config import PlatformConfig

# Our runtime names -> the KServe chart's `kserve.servingruntime.<key>` block (0.15/0.16 charts);
# each renders ClusterServingRuntime `kserve-<key>`, switched by `<key>.disabled`.
RUNTIME_CHART_KEYS: dict[str, tuple[str, ...]] = {
    "sklearn": ("sklearnserver",),
    "xgboost": ("xgbserver",),
    "lightgbm": ("lgbserver",),
    "mlserver": ("mlserver",),
    "huggingface": ("huggingfaceserver", "huggingfaceserver_multinode"),
    "tensorflow": ("tensorflow",),
    "torchserve": ("torchserve",),
    "triton": ("tritonserver",),
    "pmml": ("pmmlserver",),
    "paddle": ("paddleserver",),
}
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
MODELMESH_DEPRECATION = (
    "components.serving.modelmesh is deprecated: ModelMesh Serving was archived upstream in "
    "April 2026 (last release v0.12.0); serve with KServe InferenceServices instead"
)


class ModelMesh(Model):
    """Deprecated, off by default. etcd is not installed here: point at one you run."""

    enabled: bool = False
    etcd_endpoints: str = Field(
        "http://etcd.modelmesh-serving.svc.cluster.local:2379", pattern=r"^https?://"
    )


class Serving(Model):
    enabled: bool = True
    mode: str = Field(
        "standard", description="a deployment mode of the release's KServe: standard or knative"
    )
    runtimes: list[RuntimeName] = ["sklearn", "xgboost", "lightgbm"]
    modelmesh: ModelMesh = ModelMesh()

    @model_validator(mode="after")
    def _unique_runtimes(self) -> Serving:
        if len(self.runtimes) != len(set(self.runtimes)):
            raise ValueError(f"runtimes repeat a name: {self.runtimes}")
        return self

    def deprecations(self) -> list[str]:
        """Warnings to log (the config is allowed, but the feature is on its way out)."""
        return [MODELMESH_DEPRECATION] if self.enabled and self.modelmesh.enabled else []


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
    if serving.modelmesh.enabled and not release.has("modelmesh"):
        problems.append(f"{path}.modelmesh.enabled: release {release.release} pins no ModelMesh")
    return problems
