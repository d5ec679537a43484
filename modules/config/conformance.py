"""Conformance config: the nightly in-cluster run of the scenario suite (a CronJob).

Off by default. The runner is the scenario image (scenarios/Dockerfile); in prod it must be
pinned by digest, because our own tag (the project version) is rebuilt in place. The
scenarios are those the runner's ServiceAccount is granted exactly the rights for
(DEFAULT_SCENARIOS, modules/components/conformance.py); the others run in CI on kind with an
admin kubeconfig (`make e2e`). `tenant-isolation` never runs in-cluster: it impersonates a
synthetic user, and a ServiceAccount allowed to impersonate users can become any user (no RBAC
rule narrows impersonation to generated names).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from mlplatform.config.base import Model, Problems, ResourceList, Resources

IN_CLUSTER_REFUSED = {
    "tenant-isolation": "it impersonates a user, which the runner's ServiceAccount may not "
    "(impersonation cannot be narrowed to the scenario's generated users); it runs in CI on "
    "kind (`make e2e`)",
}
DEFAULT_SCENARIOS = (
    "train-queued",
    "quota-and-preemption",
    "gpu-scheduling",
    "serve-and-load",
    "pipeline-run",
)

# Kubernetes CronJob schedules (robfig/cron standard parser): five fields or a macro.
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip
_ITEM = re.compile(r"^(\*|(\d+)(-(\d+))?)(/(\d+))?$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                    r"(@sha256:[0-9a-f]{64})?$")  # fmt: skip
_TIMEOUT = re.compile(r"^([0-9]+)(s|m|h)$")


def cron_problem(schedule: str) -> str | None:
    """Why `schedule` is not a cron schedule a CronJob accepts, or None."""
    if schedule in _MACROS:
        return None
    fields = schedule.split()
    if len(fields) != 5:
        return (
            f"{schedule!r} has {len(fields)} fields; a schedule is 5 (minute hour day-of-month "
            f"month day-of-week, e.g. '0 2 * * *') or one of {', '.join(_MACROS)}"
        )
    for text, (name, low, high) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            m = _ITEM.match(item)
            if not m:
                return f"{name} field {text!r} is not *, N, N-M or */S (numbers only)"
            values = [int(v) for v in (m.group(2), m.group(4)) if v is not None]
            if any(not low <= v <= high for v in values):
                return f"{name} field {text!r} is outside {low}-{high}"
            if len(values) == 2 and values[0] > values[1]:
                return f"{name} field {text!r}: range start is after its end"
            if m.group(6) is not None and int(m.group(6)) == 0:
                return f"{name} field {text!r}: step 0"
    return None


def _schedule(value: str) -> str:
    if why := cron_problem(value):
        raise ValueError(why)
    return value


def _image(value: str) -> str:
    if not _IMAGE.match(value) or ("@" not in value and ":" not in value.rsplit("/", 1)[-1]):
        raise ValueError(
            f"{value!r} is not an image reference pinned by tag or digest, such as "
            "ghcr.io/mlplatform/scenarios:0.1.0 or ...@sha256:<64 hex>"
        )
    return value


def _timeout(value: str) -> str:
    m = _TIMEOUT.match(value)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{value!r} is not a positive duration in s, m or h, such as 3h or 90m")
    return value


Schedule = Annotated[str, AfterValidator(_schedule)]
Image = Annotated[str, AfterValidator(_image)]
Timeout = Annotated[str, AfterValidator(_timeout)]


def seconds(timeout: str) -> int:
    m = _TIMEOUT.match(timeout)
    assert m, timeout  # validated on load
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def has_digest(image: str) -> bool:
    return bool(_DIGEST.search(image))


class Conformance(Model):
    enabled: bool = False
    schedule: Schedule = Field("0 2 * * *", description="cron, in the cluster's time zone")
    image: Image | None = Field(
        None,
        description="the conformance image built from scenarios/Dockerfile (default: "
        "scenarios.images at the project version); prod: pinned by @sha256 digest",
    )
    scenarios: list[str] = Field(list(DEFAULT_SCENARIOS), min_length=1)
    timeout: Timeout = Field("3h", description="activeDeadlineSeconds of each run")
    timeout_scale: float = Field(1.0, gt=0, le=20, description="multiplies every wait tier")
    backoff_limit: int = Field(0, ge=0, le=3, description="retries of a failed run")
    successful_jobs_history: int = Field(3, ge=0, le=30)
    failed_jobs_history: int = Field(5, ge=0, le=30)
    retention_days: int = Field(30, ge=1, le=3650, description="runs/ kept in the bucket")
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    pushgateway_resources: Resources = Resources(
        requests=ResourceList(cpu="10m", memory="32Mi"),
        limits=ResourceList(cpu="200m", memory="128Mi"),
    )

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, names: list[str]) -> list[str]:
        from mlplatform.scenarios.library import scenarios

        known = set(scenarios())
        allowed = ", ".join(DEFAULT_SCENARIOS)
        found = []
        for i, name in enumerate(names):
            if name in IN_CLUSTER_REFUSED:
                found.append(((i,), f"{name} cannot run in-cluster: {IN_CLUSTER_REFUSED[name]}"))
            elif name in known and name not in DEFAULT_SCENARIOS:
                why = f"its RBAC covers {allowed}; it runs in CI on kind (`make e2e`)"
                found.append(((i,), f"{name} needs rights the in-cluster runner lacks ({why})"))
            elif name not in known:
                found.append(((i,), f"unknown scenario {name!r}; choose from {allowed}"))
            elif name in names[:i]:
                found.append(((i,), f"{name} is listed twice"))
        if found:
            raise Problems(found)
        return names


def dependency_problems(environment: str, cfg: Conformance, minio: bool, kueue: bool) -> list[str]:
    """What the rest of the stack must provide for the nightly run (empty: fine)."""
    if not cfg.enabled:
        return []
    path = "platform.components.conformance"
    found = [
        f"{path}.enabled: {why}; enable platform.components.{name} or disable conformance"
        for name, on, why in (
            ("minio", minio, "results are stored in MinIO"),
            ("kueue", kueue, "every scenario queues its work through Kueue"),
        )
        if not on
    ]
    if environment == "prod" and not (cfg.image and has_digest(cfg.image)):
        found.append(
            f"{path}.image: prod runs the conformance image pinned by digest; set it to "
            "<registry>/scenarios@sha256:<digest> (docker buildx imagetools inspect <tag>)"
        )
    return found
