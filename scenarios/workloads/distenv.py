"""The env-var contract between launchers and the training payload.

Launchers: `torchrun` (also what Trainer v2 TrainJob runs, fed by PET_*), and the Training
Operator v1, which starts the script directly in every PyTorchJob replica. No torch import
here, so the cluster runner can use the metrics helpers cheaply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

METRICS_PREFIX = "MLPLATFORM_METRICS "
# Not anchored at line start: launchers and log collectors may prefix lines ("[rank0]:").
_METRICS_RE = re.compile(re.escape(METRICS_PREFIX) + r"(\{.*\})\s*$", re.MULTILINE)
NPROC_KEYWORDS = frozenset({"auto", "cpu", "gpu", "xpu"})


class EnvContractError(ValueError):
    """A launcher variable is missing or invalid; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        if default is None:
            raise EnvContractError(
                f"{name} is not set: launch with torchrun or as a PyTorchJob/TrainJob replica"
            )
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EnvContractError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise EnvContractError(f"{name}={value} must be >= {minimum}")
    return value


def _opt_int(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    return _int(env, name, minimum=minimum) if env.get(name) else None


def _nnodes(env: Mapping[str, str]) -> int | None:
    """PET_NNODES is "N", or "MIN:MAX" for elastic jobs (MAX is kept)."""
    raw = env.get("PET_NNODES", "")
    low, sep, high = raw.partition(":")
    if not sep:
        return _opt_int(env, "PET_NNODES", minimum=1)
    if not (low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high)):
        raise EnvContractError(f"PET_NNODES={raw!r} is not N or MIN:MAX with 1 <= MIN <= MAX")
    return int(high)


def _nproc(env: Mapping[str, str]) -> int | str | None:
    """PET_NPROC_PER_NODE is a count or one of torchrun's keywords (auto, cpu, gpu, xpu)."""
    raw = env.get("PET_NPROC_PER_NODE", "")
    if raw in NPROC_KEYWORDS:
        return raw
    try:
        return _opt_int(env, "PET_NPROC_PER_NODE", minimum=1)
    except EnvContractError:
        raise EnvContractError(
            f"PET_NPROC_PER_NODE={raw!r} is not a count or one of {sorted(NPROC_KEYWORDS)}"
        ) from None


@dataclass(frozen=True)
class DistEnv:
    """Distributed settings parsed from the process environment."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    # Informational: what the operator / TrainJob asked for (None when absent).
    nnodes: int | None = None
    nproc_per_node: int | str | None = None
    node_rank: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DistEnv:
        world_size = _int(env, "WORLD_SIZE", minimum=1)
        rank = _int(env, "RANK")
        if rank >= world_size:
            raise EnvContractError(f"RANK={rank} must be < WORLD_SIZE={world_size}")
        addr = env.get("MASTER_ADDR", "").strip()
        if not addr:
            raise EnvContractError("MASTER_ADDR is not set or empty")
        port = _int(env, "MASTER_PORT", minimum=1)
        if port > 65535:
            raise EnvContractError(f"MASTER_PORT={port} is not a TCP port")
        # PyTorchJob replicas run one process each, so LOCAL_RANK is absent there.
        local_rank = _int(env, "LOCAL_RANK", default=0)
        nnodes = _nnodes(env)
        nproc = _nproc(env)
        node_rank = _opt_int(env, "PET_NODE_RANK", minimum=0)
        if nnodes is not None and node_rank is not None and node_rank >= nnodes:
            raise EnvContractError(f"PET_NODE_RANK={node_rank} must be < PET_NNODES={nnodes}")
        return cls(rank, world_size, local_rank, addr, port, nnodes, nproc, node_rank)


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """One log line the cluster runner greps from pod logs."""
    return METRICS_PREFIX + json.dumps(dict(metrics), sort_keys=True)


def parse_metrics(log_text: str) -> dict[str, Any] | None:
    """The last metrics line in a log, or None when the payload never printed one."""
    found = _METRICS_RE.findall(log_text)
    return json.loads(found[-1]) if found else None
