"""The real-cluster side: tool doctor, the local kind cluster, and the Pulumi stack lifecycle.

`toolchain.yaml` beside this module is the one place that pins tool minimums, kind node images
and the dev cluster's shape; `toolchain()` loads it into typed models.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlplatform.config.gpu import GPU_PRESENT_LABEL

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
REPORTS = ROOT / "reports"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tool(_Strict):
    min: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    version_args: list[str]
    install: str
    installer: str | None = Field(None, description="repo script that installs it, if any")


class Worker(_Strict):
    labels: dict[str, str] = {}
    fake_gpus: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _gpus_on_gpu_nodes(self) -> Worker:
        if self.fake_gpus and self.labels.get(GPU_PRESENT_LABEL) != "true":
            raise ValueError(f"a worker with fake_gpus needs the label {GPU_PRESENT_LABEL}: 'true'")
        return self


class HostPorts(_Strict):
    http: int = Field(ge=1, le=65535)
    https: int = Field(ge=1, le=65535)


class Kind(_Strict):
    node_images: dict[str, str]
    host_ports: HostPorts
    workers: list[Worker] = Field(min_length=1)


class Toolchain(_Strict):
    tools: dict[str, Tool]
    kind: Kind


@cache
def toolchain() -> Toolchain:
    return Toolchain.model_validate(
        yaml.safe_load((Path(__file__).parent / "toolchain.yaml").read_text())
    )
