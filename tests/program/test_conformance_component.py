"""Nightly conformance in the cluster: present only when enabled, a well-fenced CronJob, a
least-privilege runner (RBAC evaluated, and exercised by running scenarios against a fake
cluster that enforces it), network egress to exactly what it needs, the policy pack."""

import io

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import releases
from mlplatform.components import conformance as cf
from mlplatform.components import minio
from mlplatform.config.conformance import DEFAULT_SCENARIOS
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.policies import views
from mlplatform.policies.registry import evaluate
from mlplatform.rbac_eval import Rbac, ServiceAccount
from mlplatform.reachability import Endpoint, Network
from mlplatform.scenarios import incluster
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target, scenarios
from mlplatform.scenarios.manifests.serving import LOAD_PREFIX
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from mlplatform.scenarios.workloads.distenv import format_metrics
from tests import pod_security
from tests.conftest import assert_rejected, stack_config
from tests.scenarios.fake import FakeClock, FakeCluster, kueue_and_jobs, load_report, node
from tests.scenarios.fake import serving_cluster as fake_serving_cluster
from tests.schema import problems

TOKEN = "mlplatform:conformance:Conformance"
RUNNER = ServiceAccount(cf.NAMESPACE, cf.SERVICE_ACCOUNT)
RUNNER_POD = Endpoint(cf.NAMESPACE, cf.RUNNER_LABELS)
PUSHGATEWAY = Endpoint(cf.NAMESPACE, cf.PUSHGATEWAY_LABELS)
SCENARIO_NS = "scn-train-queued-abc123"
DIGEST = "ghcr.io/mlplatform/scenarios@sha256:" + "a" * 64
PLATFORM_NAMESPACES = ("kube-system", "minio", "monitoring", "kueue-system", "kubeflow",
                       "istio-system", "cert-manager", "conformance", "default")  # fmt: skip


def enabled(cfg):
    cfg["platform"]["components"]["conformance"] = {"enabled": True}


def conformance(**settings):
    def edit(cfg):
        cfg["platform"]["components"]["conformance"] = {"enabled": True, **settings}

    return edit


def ours(g):
    return [o for o in g.objects() if o.namespace == cf.NAMESPACE or "conformance" in o.name]


def rbac(g, *scenario_namespaces: str) -> Rbac:
    """The graph's RBAC plus the binding the runner makes in each namespace it creates."""
    made = [incluster.scenario_binding(ns, cf.NAMESPACE, cf.SERVICE_ACCOUNT)
            for ns in scenario_namespaces]  # fmt: skip
    return Rbac([*(o.obj for o in g.objects()), *made])


def plural(kind: str) -> str:
    lower = kind.lower()
    return (
        lower[:-1] + "ies"
        if lower.endswith("y")
        else lower + ("es" if lower.endswith("s") else "s")
    )


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


# --- present only when enabled ---------------------------------------------------------


def test_off_by_default_on_in_staging(program):
    assert "conformance" not in stack_config("dev")["platform"]["components"]
    assert "conformance" not in stack_config("prod")["platform"]["components"]
    assert stack_config("staging")["platform"]["components"]["conformance"]["enabled"] is True
    for env in ("dev", "prod"):
        g = program(env)
        assert not g.of_type(TOKEN) and not g.has("pushgateway")
        assert not [o for o in g.objects() if o.namespace == cf.NAMESPACE]
    g = program("staging")
    assert g.named("conformance", TOKEN) and g.named(cf.PUSHGATEWAY, CHART)


def test_after_minio_monitoring_kueue_and_the_controllers(program):
    g = program("staging")
    base = g.named("conformance-base", CONFIG_GROUP)
    for name, token in (("minio", "mlplatform:minio:Minio"),
                        ("monitoring", "mlplatform:monitoring:Monitoring"),
                        ("kueue", "mlplatform:kueue:Kueue")):  # fmt: skip
        assert g.depends_on(base, g.named(name, token)), name
    cron = g.named("conformance-cronjob", CONFIG_GROUP)
    assert g.depends_on(cron, g.named("conformance-bucket", CONFIG_GROUP))
    assert g.depends_on(cron, g.named(cf.PUSHGATEWAY, CHART))


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"schedule": "0 25 * * *"}, "conformance.schedule: hour field '25' is outside 0-23"),
        ({"schedule": "nightly"}, "conformance.schedule: 'nightly' has 1 fields"),
        ({"scenarios": ["tenant-isolation"]}, "conformance.scenarios.0: tenant-isolation cannot "
                                              "run in-cluster"),
        ({"scenarios": ["train-queud"]}, "conformance.scenarios.0: unknown scenario 'train-queud'"),
        ({"scenarios": ["train-queued", "ai-metrics"]}, "conformance.scenarios.1: ai-metrics needs "
                                                         "rights the in-cluster runner lacks"),
        ({"timeout": "0h"}, "conformance.timeout: '0h' is not a positive duration"),
        ({"image": "scenarios"}, "conformance.image: 'scenarios' is not an image reference"),
        ({"bogus": 1}, "conformance.bogus: unknown key"),
    ],
)  # fmt: skip
def test_bad_config_is_refused_before_anything_exists(settings, expected):
    cfg = stack_config("dev")
    conformance(**settings)(cfg)
    assert_rejected(cfg, f"platform.components.{expected}")


def test_prod_needs_a_digest_pinned_image_and_the_stack_needs_minio_and_kueue(program):
    cfg = stack_config("prod")
    enabled(cfg)
    assert_rejected(cfg, "platform.components.conformance.image: prod runs the conformance "
                    "image pinned by digest", env="prod", secrets={"oidcClientSecret": "x"})  # fmt: skip
    g = program("prod", edit=conformance(image=DIGEST))
    cron = g.object("CronJob", cf.CRONJOB, cf.NAMESPACE)
    assert (
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == DIGEST
    )
    cfg = stack_config("dev")
    enabled(cfg)
    cfg["platform"]["components"]["kueue"] = {"enabled": False}
    assert_rejected(cfg, "platform.components.conformance.enabled: every scenario queues its "
                    "work through Kueue")  # fmt: skip


# --- the CronJob ----------------------------------------------------------------------


def test_cronjob_is_fenced_and_restricted(program):
    g = program("staging", edit=conformance(timeout="90m", backoffLimit=1, schedule="30 3 * * 1-5"))
    cron = g.object("CronJob", cf.CRONJOB, cf.NAMESPACE)
    spec = cron["spec"]
    assert spec["schedule"] == "30 3 * * 1-5"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 5)
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 5400 and job["backoffLimit"] == 1
    template = job["template"]
    assert pod_security.problems(template, "restricted") == []
    pod = template["spec"]
    assert pod["serviceAccountName"] == cf.SERVICE_ACCOUNT and pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "1Gi"}}  # fmt: skip
    args = c["args"]
    assert args[:3] == ["conformance", "run", "--in-cluster"]
    assert args[args.index("--release") + 1] == "26.03"
    assert args[args.index("--publish") + 1] == "s3://conformance/runs"
    assert args[args.index("--pushgateway") + 1] == cf.PUSHGATEWAY_URL
    assert args[args.index("--retention-days") + 1] == "30"
    assert [args[i + 1] for i, a in enumerate(args) if a == "--scenario"] == list(DEFAULT_SCENARIOS)
    env = {e["name"]: e for e in c["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == f"http://{minio.ENDPOINT}"
    assert (
        env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == cf.CREDENTIALS_SECRET
    )
    ns = g.object("Namespace", cf.NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_with_a_mirror_scenario_pods_pull_from_it_too(program):
    def mirrored(cfg):
        enabled(cfg)
        cfg["platform"]["mirror"] = {"registry": "mirror.corp:5000/ml"}

    cron = program("dev", edit=mirrored).object("CronJob", cf.CRONJOB, cf.NAMESPACE)
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--registry") + 1] == "mirror.corp:5000/ml"


def test_objects_validate_against_the_kubernetes_schema(program):
    g = program("staging")
    found = {o.ref: problems(o.obj, "1.34") for o in ours(g)}
    assert len(found) > 20
    assert {ref: p for ref, p in found.items() if p} == {}


def test_results_bucket_and_keys(program):
    g = program("staging")
    job = g.object("Job", cf.MINIO_JOB, minio.NAMESPACE)
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (env["BUCKET"], env["POLICY"]) == (cf.BUCKET, cf.MINIO_USER)
    assert (
        '"arn:aws:s3:::conformance/*"' in env["POLICY_JSON"]
        and "mlpipeline" not in env["POLICY_JSON"]
    )
    for ns in (cf.NAMESPACE, minio.NAMESPACE):
        secret = next(o for o in g.objects() if o.kind == "Secret" and o.namespace == ns
                      and o.name == cf.CREDENTIALS_SECRET)  # fmt: skip
        assert {"stringData.AWS_SECRET_ACCESS_KEY", "stringData.rootPassword",
                "stringData.AWS_ACCESS_KEY_ID"} <= secret.secret_paths()  # fmt: skip


def test_pushgateway_chart_and_service_monitor(program, env_release):
    env, release = env_release
    g = program(env, release, edit=conformance(image=DIGEST))
    chart = g.named(cf.PUSHGATEWAY, CHART)
    pin = releases.load(release).component("pushgateway")
    assert chart.inputs["chart"] == pin.source.helm.chart == "prometheus-pushgateway"
    assert chart.inputs["version"] == pin.version and chart.inputs["namespace"] == cf.NAMESPACE
    values = chart.inputs["values"]
    assert values["serviceMonitor"] == {"enabled": True, "namespace": cf.NAMESPACE,
                                        "honorLabels": True}  # fmt: skip
    assert values["resources"]["limits"] and values["automountServiceAccountToken"] is False


# --- least privilege ------------------------------------------------------------------


def test_runner_holds_no_cluster_admin_ish_rights(program):
    g = program("staging")
    grants = rbac(g, SCENARIO_NS).grants(RUNNER)
    assert grants
    for _, rule in grants:
        for key in ("verbs", "apiGroups", "resources"):
            assert "*" not in rule[key], rule
        assert not {"escalate", "impersonate"} & set(rule["verbs"]), rule
        if "bind" in rule["verbs"]:
            assert rule["resources"] == ["clusterroles"]
            assert set(rule["resourceNames"]) <= {"edit", cf.PIPELINES_EDIT, cf.SCENARIO_ROLE}
    access = rbac(g, SCENARIO_NS)
    for verb, group, resource in [("bind", "rbac.authorization.k8s.io", "clusterroles"),
                                  ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
                                  ("impersonate", "", "users"), ("impersonate", "", "groups"),
                                  ("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
                                  ("create", "admissionregistration.k8s.io",
                                   "validatingadmissionpolicybindings"),
                                  ("delete", "admissionregistration.k8s.io",
                                   "validatingadmissionpolicies"),
                                  ("list", "", "secrets"), ("create", "", "pods/exec")]:  # fmt: skip
        assert not access.allowed(RUNNER, verb, group, resource, None, "cluster-admin"), verb
        assert not access.allowed(RUNNER, verb, group, resource, SCENARIO_NS, "cluster-admin")


def test_runner_reads_no_secret_but_its_own_keys(program):
    g = program("staging")
    access = rbac(g, SCENARIO_NS)
    for ns in (*PLATFORM_NAMESPACES, SCENARIO_NS, None):
        for verb in ("get", "list", "watch"):
            assert not access.allowed(RUNNER, verb, "", "secrets", ns, "minio-root"), (verb, ns)
    assert access.allowed(RUNNER, "get", "", "secrets", minio.NAMESPACE, cf.CREDENTIALS_SECRET)
    assert not access.allowed(RUNNER, "get", "", "secrets", cf.NAMESPACE, cf.CREDENTIALS_SECRET)


def test_runner_writes_nothing_outside_scenario_namespaces(program):
    g = program("staging")
    access = rbac(g, SCENARIO_NS)
    writes = [(g_, r) for g_, rs in cf.NAMESPACED.items() for r in rs] + [
        ("", "secrets"), ("", "pods"), ("", "configmaps"), ("apps", "deployments")]  # fmt: skip
    for ns in PLATFORM_NAMESPACES:
        for group, resource in writes:
            for verb in ("create", "update", "patch", "delete"):
                assert not access.allowed(RUNNER, verb, group, resource, ns), (verb, resource, ns)
        assert not access.allowed(RUNNER, "list", "", "pods", ns) or ns in (
            "kueue-system",
            "kubeflow",
        )
    # in a scenario namespace it created, exactly what scenarios create and read
    for group, resources in cf.NAMESPACED.items():
        for resource in resources:
            assert access.allowed(RUNNER, "create", group, resource, SCENARIO_NS), resource
            assert not access.allowed(RUNNER, "delete", group, resource, SCENARIO_NS), resource
    assert access.allowed(RUNNER, "get", "", "pods/log", SCENARIO_NS)
    assert not access.allowed(RUNNER, "get", "", "pods/log", "monitoring")


def test_runner_rights_are_exactly_what_the_scenario_manifests_need(program):
    """Every kind the in-cluster scenarios create (on every release) is creatable, and the
    runner may create nothing else (plus its own RoleBindings and SubjectAccessReviews)."""
    needed = set()
    for name in releases.available():
        rel = releases.load(name)
        target = Target(rel, Images.for_release(rel), "abc123", incluster.endpoints())
        for sc in (scenarios()[n] for n in DEFAULT_SCENARIOS):
            if not sc.unsupported(rel):
                needed |= {(group_of(o["apiVersion"]), plural(o["kind"]))
                           for o in sc.build(target).manifests(rel)}  # fmt: skip
    granted = {(group, resource)
               for _, rule in rbac(program("staging"), SCENARIO_NS).grants(RUNNER)
               if "create" in rule["verbs"]
               for group in rule["apiGroups"] for resource in rule["resources"]}  # fmt: skip
    extra = {("authorization.k8s.io", "subjectaccessreviews")}
    assert granted == needed | extra


def test_scenario_objects_pass_the_admission_policy():
    """What the policy demands of the runner's writes, every in-cluster scenario does: names
    and namespaces scn-*, labelled namespaces enforcing restricted or baseline, scn-* cohorts."""
    for name in releases.available():
        rel = releases.load(name)
        target = Target(rel, Images.for_release(rel), "abc123", incluster.endpoints())
        for sc in (scenarios()[n] for n in DEFAULT_SCENARIOS):
            if sc.unsupported(rel):
                continue
            for o in sc.build(target).manifests(rel):
                md = o["metadata"]
                assert (md.get("namespace") or md["name"]).startswith("scn-"), o["kind"]
                if o["kind"] == "Namespace":
                    assert "mlplatform.io/scenario" in md["labels"]
                    enforce = md["labels"]["pod-security.kubernetes.io/enforce"]
                    assert enforce in ("restricted", "baseline"), md["name"]
                if o["kind"] == "ClusterQueue":
                    cohort = o["spec"].get("cohort") or o["spec"].get("cohortName") or "scn-"
                    assert cohort.startswith("scn-"), md["name"]


def test_admission_policy_fences_every_write_of_the_runner(program):
    g = program("staging")
    policy = g.object("ValidatingAdmissionPolicy", cf.ADMISSION_POLICY)
    binding = g.object("ValidatingAdmissionPolicyBinding", cf.ADMISSION_POLICY)
    assert binding["spec"] == {"policyName": cf.ADMISSION_POLICY, "validationActions": ["Deny"]}
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (condition,) = spec["matchConditions"]
    assert RUNNER.username in condition["expression"]
    fenced = {(group, resource) for r in spec["matchConstraints"]["resourceRules"]
              for group in r["apiGroups"] for resource in r["resources"]
              if {"CREATE", "DELETE"} <= set(r["operations"])}  # fmt: skip
    writable = {(group, resource) for _, rule in rbac(g, SCENARIO_NS).grants(RUNNER)
                if {"create", "update", "patch", "delete"} & set(rule["verbs"])
                for group in rule["apiGroups"] for resource in rule["resources"]
                if resource != "subjectaccessreviews"}  # fmt: skip
    assert writable <= fenced, writable - fenced
    scope, pod_security_level, cohorts = spec["validations"]
    assert (
        "'pod-security.kubernetes.io/enforce'] in ['restricted', 'baseline']"
        in (pod_security_level["expression"])
    )
    assert "object.spec.cohort.startsWith('scn-')" in cohorts["expression"]
    assert "object.spec.cohortName.startsWith('scn-')" in cohorts["expression"]
    rule = scope["expression"]
    assert rule.startswith("request.resource.resource == 'namespaces' ? (")
    assert "variables.meta.name.startsWith('scn-') && has(variables.meta.labels) && " \
        "'mlplatform.io/scenario' in variables.meta.labels" in rule  # fmt: skip
    assert "request.namespace == '' ? variables.meta.name.startsWith('scn-')" in rule
    scoped = {v["name"]: v["expression"] for v in spec["variables"]}["inScenarioNamespace"]
    assert "request.namespace.startsWith('scn-')" in scoped
    assert "'mlplatform.io/scenario' in namespaceObject.metadata.labels" in scoped


# --- the scenarios run with these rights (a fake cluster that enforces them) -------------


class Enforcing:
    """FakeCluster behind the RBAC evaluator: every call is checked as the runner; the
    RoleBindings it creates take effect."""

    def __init__(self, fake: FakeCluster, objects: list[dict]) -> None:
        self.fake = fake
        self.objects = list(objects)
        self.denied: list[str] = []

    def _check(self, verb: str, api_version: str, kind: str, ns: str | None, name: str | None):
        resource = plural(kind)
        if not Rbac(self.objects).allowed(RUNNER, verb, group_of(api_version), resource, ns, name):
            self.denied.append(f"{verb} {resource} {ns or '-'}/{name or '*'}")
            raise ApiError(403, "Forbidden")

    def create(self, obj):
        md = obj["metadata"]
        self._check("create", obj["apiVersion"], obj["kind"], md.get("namespace"), md.get("name"))
        live = self.fake.create(obj)
        if obj["kind"] in ("RoleBinding", "Role"):
            self.objects.append(obj)
        return live

    def get(self, api_version, kind, name, namespace=None):
        self._check("get", api_version, kind, namespace, name)
        return self.fake.get(api_version, kind, name, namespace)

    def list(self, api_version, kind, namespace=None, labels=None):
        self._check("list", api_version, kind, namespace, None)
        return self.fake.list(api_version, kind, namespace, labels)

    def delete(self, api_version, kind, name, namespace=None):
        self._check("delete", api_version, kind, namespace, name)
        self.fake.delete(api_version, kind, name, namespace)

    def logs(self, namespace, pod, container=None, tail_lines=None):
        if not Rbac(self.objects).allowed(RUNNER, "get", "", "pods/log", namespace, pod):
            self.denied.append(f"get pods/log {namespace}/{pod}")
            raise ApiError(403, "Forbidden")
        return self.fake.logs(namespace, pod, container, tail_lines)

    def version(self):  # /version: readable by every authenticated user
        return self.fake.version()

    def proxy_get(self, namespace, service, path, params=None):
        if not Rbac(self.objects).allowed(RUNNER, "get", "", "services/proxy", namespace, service):
            self.denied.append(f"get services/proxy {namespace}/{service}")
            raise ApiError(403, "Forbidden")
        return self.fake.proxy_get(namespace, service, path, params)

    def patch(self, *args, **kwargs):
        raise AssertionError("scenarios do not patch")

    def impersonate(self, user, groups):
        raise AssertionError("the in-cluster runner never impersonates")


def _fake_cluster() -> FakeCluster:
    """Kueue admits, jobs log the training metrics and the load report, the
    InferenceService gets Ready, a GPU node exists, MinIO holds the runner's key pair."""
    train = format_metrics({"final_loss": 0.01, "duration_s": 3.5, "reached_target": True,
                            "world_size": 2})  # fmt: skip
    line = LOAD_PREFIX + load_report(p95_ms=50.0).to_json().replace("\n", "")
    load = fake_serving_cluster(load_report(p95_ms=50.0))
    fake = FakeCluster()
    fake.hooks.append(kueue_and_jobs(pod_log=f"{train}\n{line}", node="gpu-node"))
    fake.hooks.append(load.hooks[-1])  # InferenceService Ready
    secret = load.get("v1", "Secret", minio.ROOT_SECRET, minio.NAMESPACE)
    secret["metadata"]["name"] = cf.CREDENTIALS_SECRET  # the runner's own pair, same keys
    fake.put(secret)
    fake.put(node("gpu-node", gpus=1))
    return fake


def _run_unbound(cluster, out):
    """The same scenarios without SelfBinding: the runner never binds itself anywhere."""
    rel = releases.load("1.11")
    target = Target(rel, Images.for_release(rel), "f4ke00", incluster.endpoints())
    chosen = ["train-queued", "gpu-scheduling", "serve-and-load"]
    return execute(cluster, target, chosen, out, False,
                   waiter=Waiter(FakeClock()), progress=Progress(io.StringIO()))  # fmt: skip


def test_scenarios_pass_with_exactly_the_runners_rights(program, tmp_path):
    """The CronJob's entry point (`conformance run --in-cluster`) as the runner's account."""
    g = program("staging", "1.11")
    cluster = Enforcing(_fake_cluster(), [o.obj for o in g.objects()])
    chosen = ["train-queued", "gpu-scheduling", "serve-and-load"]
    report = incluster.run("1.11", chosen, tmp_path, False, cluster=cluster)
    assert report.context == f"in-cluster:{cf.NAMESPACE}/{cf.SERVICE_ACCOUNT}"
    assert cluster.denied == []
    assert report.passed, [(s.name, s.message) for s in report.scenarios]
    assert not any(ns.startswith("scn-") for ns in cluster.fake.namespaces())


def test_without_binding_itself_the_runner_can_do_nothing_in_scenario_namespaces(program, tmp_path):
    g = program("staging", "1.11")
    cluster = Enforcing(_fake_cluster(), [o.obj for o in g.objects()])
    report = _run_unbound(cluster, tmp_path)
    assert not report.passed
    assert any(d.startswith("create networkpolicies scn-") for d in cluster.denied)


# --- network ----------------------------------------------------------------------------


def test_runner_egress_only_to_api_server_dns_minio_and_pushgateway(program):
    def with_cidrs(cfg):
        enabled(cfg)
        cfg["platform"].setdefault("network", {})["apiServerCidrs"] = ["10.0.0.0/28"]

    net = Network(program("dev", edit=with_cidrs))
    reach = [
        (RUNNER_POD, Endpoint("minio", {"app": "minio"}), 9000, True),
        (RUNNER_POD, PUSHGATEWAY, 9091, True),
        (RUNNER_POD, Endpoint("kube-system", {"k8s-app": "kube-dns"}), 53, True),
        (RUNNER_POD, Endpoint(ip="10.0.0.1"), 443, True),  # the API server
        (RUNNER_POD, Endpoint(ip="93.184.216.34"), 443, False),  # anything else
        (RUNNER_POD, Endpoint("minio", {"app": "minio"}), 9001, False),  # not the console
        (RUNNER_POD, Endpoint("kubeflow", {"app": "ml-pipeline"}), 8888, False),
        (RUNNER_POD, Endpoint("istio-system", {"istio": "ingressgateway"}), 8080, False),
        (RUNNER_POD, Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"}), 9090, False),
        (RUNNER_POD, Endpoint("team-a", {"app": "x"}), 8080, False),
        (Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"}), PUSHGATEWAY, 9091, True),
        (Endpoint("team-a", {"app": "x"}), PUSHGATEWAY, 9091, False),  # nobody else pushes
        (Endpoint(cf.NAMESPACE, {"app": "other"}), PUSHGATEWAY, 9091, False),
    ]
    wrong = [(s, d, p) for s, d, p, ok in reach if net.can_reach(s, d, p) != ok]
    assert wrong == []


# --- policies ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_policy_pack_passes(program, env):
    g = program(env, edit=enabled)
    findings = [f for f in evaluate(views.from_graph(g))
                if f.level == "mandatory" and f.waiver is None]  # fmt: skip
    mine = [f"{f.policy.name} {f.resource}: {f.violation.message}" for f in findings
            if "conformance" in f.resource or "pushgateway" in f.resource]  # fmt: skip
    assert mine == []
