"""tenant-isolation: a member of tenant A cannot read or create in tenant B (checked by
SubjectAccessReview and by impersonation), pods in A cannot reach B's pods, and A's
workloads cannot be admitted against B's quota."""

from __future__ import annotations

from mlplatform import kueue_objects as kq
from mlplatform.manifests import Obj
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.batch import sleeper_job
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.probes import access_review, client_job, server_job
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed
from mlplatform.scenarios.waits import CONSISTENT

NAME = "tenant-isolation"
STOLEN_QUEUE = "b-quota"
# (verb, group, resource) a member must hold in their own namespace and not in another's.
ACCESS = (("create", "batch", "jobs"), ("get", "", "secrets"), ("list", "", "pods"))


def build(t: Target) -> Plan:
    flavor = t.flavor(NAME)
    a = ScenarioTenant(t.namespace(NAME, "a"), NAME, flavor, Quota(cpu="1", memory="1Gi"))
    b = ScenarioTenant(t.namespace(NAME, "b"), NAME, flavor, Quota(cpu="1", memory="1Gi"))
    img = t.images.scenario
    server = server_job("probe-server", b.namespace, b.local_queue, img)
    ip_until_running = "10.0.0.1"  # replaced by the server pod's IP once it runs (with_host)
    inside = client_job(
        "probe-inside", b.namespace, b.local_queue, img, ip_until_running, "reachable"
    )
    across = client_job(
        "probe-across", a.namespace, a.local_queue, img, ip_until_running, "blocked"
    )
    api = t.release.component("kueue").api("kueue")
    stolen = kq.local_queue(api, STOLEN_QUEUE, a.namespace, b.cluster_queue)
    thief = sleeper_job(
        "quota-thief", a.namespace, img, STOLEN_QUEUE, Size(cpu="100m", memory="64Mi"), 60
    )
    reviews = [
        access_review(a.member, v, r, ns, g)
        for ns in (a.namespace, b.namespace)
        for v, g, r in ACCESS
    ]

    def rbac(s: Session) -> None:
        wrong = []
        for review in reviews:
            attrs = review["spec"]["resourceAttributes"]
            allowed = bool(s.cluster.create(review).get("status", {}).get("allowed"))
            if allowed != (attrs["namespace"] == a.namespace):
                wrong.append(
                    f"{attrs['verb']} {attrs['resource']} in {attrs['namespace']}: "
                    f"{'allowed' if allowed else 'denied'}"
                )
        if wrong:
            raise StepFailed("unexpected access for A's member: " + "; ".join(wrong))

    def impersonated(s: Session) -> None:
        as_a = s.cluster.impersonate(a.member, ["system:authenticated"])
        as_a.list("v1", "Pod", a.namespace)  # allowed: proves impersonation itself works
        try:
            as_a.list("v1", "Pod", b.namespace)
        except ApiError as e:
            if e.status == 403:
                return
            raise
        raise StepFailed(f"{a.member} listed pods in {b.namespace}")

    def with_host(job: Obj, ip: str) -> Obj:
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        args[args.index("--host") + 1] = ip
        return job

    def reachable(s: Session) -> None:
        s.create(server)
        ip = s.running_pod_ip(server)
        s.state["server_ip"] = ip
        s.create(with_host(inside, ip))
        s.finished(inside)

    def blocked(s: Session) -> None:
        s.create(with_host(across, s.state["server_ip"]))
        s.finished(across)

    def quota(s: Session) -> None:
        s.create(stolen)
        s.create(thief)
        s.not_admitted(thief, CONSISTENT)

    steps = [
        Step("RBAC by SubjectAccessReview", "A's member may act in A and is denied the same "
             "verbs in B", rbac),
        Step("RBAC by impersonation", "impersonating A's member, listing B's pods is 403",
             impersonated),
        Step("network inside tenant", "a pod in B reaches B's server (probe is live)",
             reachable),
        Step("network across tenants", "a pod in A cannot connect to B's server", blocked),
        Step("quota separation", "a job in A queued to B's ClusterQueue is never admitted",
             quota),
    ]  # fmt: skip
    return Plan(
        [a, b], [flavor.build(t.release)], [server, inside, across, stolen, thief], steps, ["kueue"]
    )


SCENARIO = Scenario(
    NAME,
    "Tenants are isolated: RBAC, network reachability and queue quota.",
    ("kueue",),
    build,
)
