"""gpu-scheduling: a job requesting nvidia.com/gpu is admitted to the GPU flavor and lands
only on GPU nodes (labelled nvidia.com/gpu.present=true; on kind, fake capacity)."""

from __future__ import annotations

from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.batch import GPU_NODE_LABEL, gpu_job
from mlplatform.scenarios.manifests.pods import GPU_RESOURCE
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed

NAME = "gpu-scheduling"


def gpu_nodes(s: Session) -> list[str]:
    nodes = s.cluster.list("v1", "Node", labels={GPU_NODE_LABEL: "true"})
    return [
        n["metadata"]["name"]
        for n in nodes
        if int(n.get("status", {}).get("allocatable", {}).get(GPU_RESOURCE, "0")) > 0
    ]


def build(t: Target) -> Plan:
    flavor = t.flavor(NAME, {GPU_NODE_LABEL: "true"})
    tenant = ScenarioTenant(t.namespace(NAME), NAME, flavor, Quota(cpu="1", memory="1Gi", gpus=1))
    job = gpu_job("gpu-probe", tenant.namespace, t.images.scenario, tenant.local_queue)

    def capacity(s: Session) -> None:
        nodes = gpu_nodes(s)
        if not nodes:
            raise StepFailed(f"no node labelled {GPU_NODE_LABEL}=true advertises {GPU_RESOURCE}")
        s.state["gpu_nodes"] = nodes

    def admitted(s: Session) -> None:
        s.create(job)
        wl = s.admitted(job)
        assigned = {
            flav
            for ps in wl.get("status", {}).get("admission", {}).get("podSetAssignments", [])
            for flav in ps.get("flavors", {}).values()
        }
        if assigned != {flavor.name}:
            raise StepFailed(f"admitted to flavors {sorted(assigned)}, expected {flavor.name}")

    def placed(s: Session) -> None:
        s.finished(job)
        where = {p["spec"].get("nodeName") for p in s.pods(job)}
        if not where or not where <= set(s.state["gpu_nodes"]):
            raise StepFailed(
                f"ran on {sorted(map(str, where))}, GPU nodes are {s.state['gpu_nodes']}"
            )

    steps = [
        Step("GPU capacity", f"some node is labelled for GPUs and advertises {GPU_RESOURCE}",
             capacity),
        Step("admitted to GPU flavor", "Kueue assigns the job the GPU ResourceFlavor", admitted),
        Step("runs on a GPU node", "the pod ran on a GPU node and the job succeeded", placed),
    ]  # fmt: skip
    return Plan([tenant], [flavor.build(t.release)], [job], steps, ["kueue"])


SCENARIO = Scenario(NAME, "A GPU job is placed only on GPU-flavored nodes.", ("kueue",), build)
