"""secure-accelerator-access: GPUs are reached only through the device plugin and the
tenant's own GPU quota.

Tenant B owns one GPU of quota; tenant A owns none. B's GPU job is admitted (the quota is
real); A's GPU job is never admitted, neither from A's own queue nor from a LocalQueue in A
pointing at B's ClusterQueue. On a GPU node, a pod of A requesting no GPU sees no
/dev/nvidia* device, also when it sets NVIDIA_VISIBLE_DEVICES=all itself (see
manifests/accelerators.py); that check needs a GPU node and is not applicable without one.
"""

from __future__ import annotations

import json

from mlplatform import kueue_objects as kq
from mlplatform.scenarios.catalog.gpu_scheduling import gpu_nodes
from mlplatform.scenarios.library import NotApplicable, Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.accelerators import (
    NO_DEVICE_VALUES,
    PROBE_CONTAINERS,
    device_probe_job,
)
from mlplatform.scenarios.manifests.batch import GPU_NODE_LABEL, gpu_job
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed
from mlplatform.scenarios.waits import CONSISTENT
from mlplatform.scenarios.workloads.distenv import METRICS_PREFIX

NAME = "secure-accelerator-access"
FOREIGN_QUEUE = "b-gpus"
SECURE = ("secure_accelerator_access",)


def device_reports(s: Session, job: dict) -> dict[str, dict]:
    """Each probe container's report, by container name."""
    ns = job["metadata"]["namespace"]
    found: dict[str, dict] = {}
    for pod in s.pods(job):
        for c in pod["spec"]["containers"]:
            for line in s.cluster.logs(ns, pod["metadata"]["name"], c["name"]).splitlines():
                if line.startswith(METRICS_PREFIX):
                    report = json.loads(line.removeprefix(METRICS_PREFIX))
                    found[report["container"]] = report
    return found


def build(t: Target) -> Plan:
    flavor = t.flavor(NAME, {GPU_NODE_LABEL: "true"})
    a = ScenarioTenant(t.namespace(NAME, "a"), NAME, flavor, Quota(cpu="1", memory="1Gi"))
    b = ScenarioTenant(t.namespace(NAME, "b"), NAME, flavor, Quota(cpu="1", memory="1Gi", gpus=1))
    img = t.images.scenario
    owned = gpu_job("own-gpu", b.namespace, img, b.local_queue)
    no_quota = gpu_job("no-gpu-quota", a.namespace, img, a.local_queue)
    foreign = kq.local_queue(
        t.release.component("kueue").api("kueue"), FOREIGN_QUEUE, a.namespace, b.cluster_queue
    )
    borrowed = gpu_job("foreign-gpu", a.namespace, img, FOREIGN_QUEUE)
    probe = device_probe_job("device-probe", a.namespace, img, a.local_queue)

    def owner_admitted(s: Session) -> None:
        s.create(owned)
        s.admitted(owned)
        # Free B's GPU again: a refusal later must come from isolation, not a full quota.
        s.cluster.delete(owned["apiVersion"], owned["kind"], owned["metadata"]["name"], b.namespace)

    def own_queue(s: Session) -> None:
        s.create(no_quota)
        s.not_admitted(no_quota, CONSISTENT)

    def foreign_queue(s: Session) -> None:
        s.create(foreign)
        s.create(borrowed)
        s.not_admitted(borrowed, CONSISTENT)

    def no_device(s: Session) -> None:
        if not gpu_nodes(s):
            raise NotApplicable("no node advertises nvidia.com/gpu: no device to isolate")
        s.create(probe)
        s.finished(probe)
        reports = device_reports(s, probe)
        wrong = []
        for name in PROBE_CONTAINERS:
            r = reports.get(name)
            if r is None:
                wrong.append(f"{name}: no report")
            elif r["devices"]:
                wrong.append(f"{name} sees {', '.join(r['devices'])}")
        plain = reports.get("plain", {})
        if plain and plain.get("visible", "").lower() not in NO_DEVICE_VALUES:
            wrong.append(f"plain has NVIDIA_VISIBLE_DEVICES={plain['visible']}")
        if wrong:
            raise StepFailed("a pod without a GPU request reached a GPU: " + "; ".join(wrong))

    steps = [
        Step("owner's GPU quota admits", "B's GPU job is admitted against B's GPU quota "
             "(then deleted, freeing it)", owner_admitted),
        Step("no GPU quota, no GPU", f"A's GPU job stays unadmitted for {CONSISTENT} (A has "
             "no GPU quota)", own_queue, SECURE),
        Step("foreign GPU quota refused", f"A's GPU job queued to B's ClusterQueue stays "
             f"unadmitted for {CONSISTENT}", foreign_queue, SECURE),
        Step("no device without a request", "on a GPU node, A's pod without a GPU request "
             "sees no /dev/nvidia*, even setting NVIDIA_VISIBLE_DEVICES=all", no_device,
             SECURE),
    ]  # fmt: skip
    return Plan(
        [a, b],
        [flavor.build(t.release)],
        [owned, no_quota, foreign, borrowed, probe],
        steps,
        ["kueue"],
    )


SCENARIO = Scenario(
    NAME,
    "GPUs are reached only through a GPU request within the tenant's own GPU quota.",
    ("kueue",),
    build,
)
