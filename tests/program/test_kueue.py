"""Kueue under mocks: chart + manager config per Kueue version, platform objects, edges."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import kueue_objects, releases
from mlplatform.components.kueue import manager_config
from mlplatform.config.kueue import Kueue
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.platform import load_config
from tests.conftest import KUBERNETES_FOR, RELEASES, assert_rejected, stack_config
from tests.schema import invalid_objects

OUR_GROUPS = {"kueue-namespace", "kueue-platform-objects"}
# What each release's manager config must integrate with the default training config
# (1.10 has no Trainer, so neither JobSet nor TrainJob is deployed there).
FRAMEWORKS = {
    "1.10": ["batch/job", "kubeflow.org/pytorchjob"],
    "1.11": [
        "batch/job",
        "kubeflow.org/pytorchjob",
        "jobset.x-k8s.io/jobset",
        "trainer.kubeflow.org/trainjob",
    ],
}
FRAMEWORKS["26.03"] = FRAMEWORKS["1.11"]
WAIT_FOR_PODS_READY = {
    "1.10": {"enable": True, "timeout": "5m", "blockAdmission": False},
    "1.11": {"enable": True, "timeout": "5m", "blockAdmission": False},
    "26.03": {"timeout": "5m", "blockAdmission": False},  # config v1beta2: no `enable`
}


def _manager_config(graph) -> dict:
    values = graph.named("kueue", CHART).inputs["values"]
    return yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])


def _edit(**components):
    def edit(cfg):
        for name, value in components.items():
            cfg["platform"]["components"][name] = value

    return edit


def test_kueue_chart_and_platform_objects(program, env_release):
    env, release = env_release
    g = program(env, release)
    entry = releases.load(release).component("kueue")
    assert g.named("kueue", "mlplatform:kueue:Kueue")
    chart = g.named("kueue", CHART)
    assert chart.inputs["chart"] == "oci://registry.k8s.io/kueue/charts/kueue"
    assert chart.inputs["version"] == entry.version
    assert chart.inputs["namespace"] == "kueue-system"
    flavors = [o for o in g.objects() if o.kind == "ResourceFlavor"]
    priorities = [o for o in g.objects() if o.kind == "WorkloadPriorityClass"]
    assert {o.api_version for o in flavors + priorities} == {entry.api("kueue")}
    assert {o.owner.name for o in flavors + priorities} == {"kueue-platform-objects"}
    stack = stack_config(env)["platform"]["components"].get("kueue", {})
    expected = [f["name"] for f in stack.get("flavors", [{"name": "cpu"}])]
    assert [o.name for o in flavors] == expected
    assert {(o.name, o.obj["value"]) for o in priorities} == {
        ("low", 100),
        ("default", 1000),
        ("high", 10000),
    }


@pytest.mark.parametrize("release", RELEASES)
def test_manager_config_per_kueue_version(program, release):
    config = _manager_config(program("dev", release))
    cat = releases.load(release).component("kueue")
    assert config["apiVersion"] == cat.api("config")
    assert config["kind"] == "Configuration"
    assert config["integrations"]["frameworks"] == FRAMEWORKS[release]
    assert config["waitForPodsReady"] == WAIT_FOR_PODS_READY[release]
    assert config["internalCertManagement"] == {"enable": False}  # cert-manager issues certs
    assert (config["webhook"]["port"], config["metrics"]["bindAddress"]) == (9443, ":8443")


def test_api_version_switch_between_1_11_and_26_03(program):
    old, new = program("dev", "1.11"), program("dev", "26.03")
    assert old.object("ResourceFlavor", "gpu")
    assert {o.api_version for o in old.objects() if o.obj["apiVersion"].startswith("kueue")} == {
        "kueue.x-k8s.io/v1beta1"
    }
    assert {o.api_version for o in new.objects() if o.obj["apiVersion"].startswith("kueue")} == {
        "kueue.x-k8s.io/v1beta2"
    }
    assert _manager_config(old)["apiVersion"] == "config.kueue.x-k8s.io/v1beta1"
    assert _manager_config(new)["apiVersion"] == "config.kueue.x-k8s.io/v1beta2"
    # The cohort field is renamed (each version's schema: tests/upstream/test_crds.py).
    group = [kueue_objects.flavor_quotas("cpu", {"cpu": "4"}, {"cpu": "2"}, {})]
    group = [{"coveredResources": ["cpu"], "flavors": group}]
    for release, field in (("1.11", "cohort"), ("26.03", "cohortName")):
        api = releases.load(release).component("kueue").api("kueue")
        cq = kueue_objects.cluster_queue(api, "team-a", "team-a", group, cohort="research")
        assert cq["spec"][field] == "research"
        assert ({"cohort", "cohortName"} - {field}) & cq["spec"].keys() == set()


def test_our_kueue_objects_are_schema_valid(program, env_release):
    env, release = env_release
    g = program(env, release)
    bad = [
        p
        for p in invalid_objects(g, KUBERNETES_FOR[release])
        if p.split(":")[0] in {o.ref for o in g.objects() if o.owner.name in OUR_GROUPS}
    ]
    assert bad == []


def test_ordering_edges(program, env_release):
    g = program(*env_release)
    chart = g.named("kueue", CHART)
    assert g.depends_on(chart, g.named("cert-manager", CHART))
    assert g.depends_on(chart, g.named("kube-prometheus-stack", CHART))
    assert g.depends_on(chart, g.named("kueue-namespace", CONFIG_GROUP))
    assert g.depends_on(g.named("kueue-platform-objects", CONFIG_GROUP), chart)


def test_metrics_certs_and_namespace(program):
    g = program("dev")
    values = g.named("kueue", CHART).inputs["values"]
    assert values["enablePrometheus"] is True and values["enableCertManager"] is True
    assert values["metrics"]["prometheusNamespace"] == "monitoring"
    ns = g.object("Namespace", "kueue-system")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        o.name: o.obj
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == "kueue-system"
    }
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-apiserver-egress",
        "allow-webhooks-from-apiserver",
        "allow-prometheus-scrape",
    }
    webhook = policies["allow-webhooks-from-apiserver"]["spec"]["ingress"][0]["ports"]
    assert {p["port"] for p in webhook} == {9443, 8082}
    scrape = policies["allow-prometheus-scrape"]["spec"]["ingress"][0]
    assert [p["port"] for p in scrape["ports"]] == [8443]


def test_without_monitoring_and_cert_manager(program):
    off = {"enabled": False}  # katib and notebooks need cert-manager for their webhooks
    g = program("dev", edit=_edit(monitoring=off, certManager=off, katib=off, notebooks=off))
    values = g.named("kueue", CHART).inputs["values"]
    assert values["enablePrometheus"] is False and values["enableCertManager"] is False
    assert "internalCertManagement" not in _manager_config(g)
    assert not any(
        o.name == "allow-prometheus-scrape" and o.namespace == "kueue-system" for o in g.objects()
    )


def test_frameworks_follow_what_is_deployed(program):
    # Same configs as test_training's toggles, so the recorded graphs are shared.
    config = _manager_config(program("dev", "26.03", edit=_edit(training={"trainer": False})))
    assert config["integrations"]["frameworks"] == ["batch/job", "kubeflow.org/pytorchjob"]
    config = _manager_config(program("staging", edit=_edit(training={"operator": False})))
    assert "kubeflow.org/pytorchjob" not in config["integrations"]["frameworks"]
    assert "trainer.kubeflow.org/trainjob" in config["integrations"]["frameworks"]


@pytest.mark.parametrize("release", RELEASES)
def test_wait_for_pods_ready_settings(release):
    def config(wait):
        cfg = stack_config("dev", release)
        cfg["platform"]["components"]["kueue"]["waitForPodsReady"] = wait
        return load_config(cfg).platform

    assert "waitForPodsReady" not in manager_config(config({"enabled": False}))
    assert manager_config(config({"timeout": "1h30m"}))["waitForPodsReady"] == {
        **WAIT_FOR_PODS_READY[release],
        "timeout": "1h30m",
    }


def test_per_environment_flavors(program):
    gpu = program("dev").object("ResourceFlavor", "gpu")["spec"]
    assert gpu == {"nodeLabels": {"nvidia.com/gpu.present": "true"}}
    assert program("dev").object("ResourceFlavor", "cpu")["spec"] == {}
    prod = program("prod")
    a100 = prod.object("ResourceFlavor", "gpu-a100")["spec"]
    assert a100["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    values = prod.named("kueue", CHART).inputs["values"]["controllerManager"]
    assert values["replicas"] == 2 and values["podDisruptionBudget"]["enabled"] is True
    dev = program("dev").named("kueue", CHART).inputs["values"]["controllerManager"]
    assert dev["replicas"] == 1 and dev["podDisruptionBudget"]["enabled"] is False


def test_manager_resources_from_config(program, env_release):
    env, release = env_release
    manager = program(env, release).named("kueue", CHART).inputs["values"]["controllerManager"]
    cfg = Kueue.model_validate(
        stack_config(env, release)["platform"]["components"].get("kueue", {})
    )
    assert manager["manager"] == {"resources": cfg.resources.as_k8s()}
    assert set(manager["manager"]["resources"]["limits"]) == {"cpu", "memory"}


def test_kueue_can_be_turned_off(program):
    def off(cfg):  # tenants' queues need Kueue, so the stack drops them too
        cfg["platform"]["components"]["kueue"] = {"enabled": False}
        cfg.pop("tenants", None)

    g = program("dev", edit=off)
    assert not g.has("kueue") and not g.has("kueue-platform-objects")


def _kueue(**fields):
    def edit(cfg):
        cfg["platform"]["components"]["kueue"] = fields

    return edit


BAD = {
    "gpu flavor without node labels": (
        _kueue(flavors=[{"name": "gpu", "gpu": True}]),
        "platform.components.kueue.flavors.0.nodeLabels: flavor 'gpu' is a gpu flavor without nodeLabels: "
        "GPU quota would be admitted onto any node; add e.g. nodeLabels: "
        '{nvidia.com/gpu.present: "true"}',
    ),
    "duplicate flavor": (
        _kueue(flavors=[{"name": "cpu"}, {"name": "cpu"}]),
        "platform.components.kueue.flavors.1.name: 'cpu' is already flavors.0; names must be unique",
    ),
    "flavor name not a DNS label": (
        _kueue(flavors=[{"name": "GPU_A100"}]),
        "platform.components.kueue.flavors.0.name: 'GPU_A100' is not a DNS-1123 label",
    ),
    "no flavors": (
        _kueue(flavors=[]),
        "platform.components.kueue.flavors: List should have at least 1 item",
    ),
    "unknown default priority class": (
        _kueue(defaultPriorityClass="urgent"),
        "platform.components.kueue.defaultPriorityClass: 'urgent' is not one of "
        "priorityClasses: low, default, high",
    ),
    "duplicate priority class": (
        _kueue(
            priorityClasses=[{"name": "a", "value": 1}, {"name": "a", "value": 2}],
            defaultPriorityClass="a",
        ),
        "platform.components.kueue.priorityClasses.1.name: 'a' is already priorityClasses.0",
    ),
    "duplicate cohort": (
        _kueue(cohorts=[{"name": "research"}, {"name": "research"}]),
        "cohorts.1.name: 'research' is already cohorts.0",
    ),
    "timeout with days": (
        _kueue(waitForPodsReady={"timeout": "1d"}),
        "platform.components.kueue.waitForPodsReady.timeout: '1d' is not a Go duration",
    ),
    "toleration Exists with a value": (
        _kueue(
            flavors=[
                {"name": "cpu", "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}
            ]
        ),
        "platform.components.kueue.flavors.0.tolerations.0.value: operator Exists takes no value",
    ),
    "toleration bad effect": (
        _kueue(flavors=[{"name": "cpu", "tolerations": [{"key": "k", "effect": "Never"}]}]),
        "platform.components.kueue.flavors.0.tolerations.0.effect: Input should be",
    ),
    "taint without effect": (
        _kueue(flavors=[{"name": "cpu", "nodeTaints": [{"key": "k"}]}]),
        "platform.components.kueue.flavors.0.nodeTaints.0.effect: required but missing",
    ),
    "bad node label key": (
        _kueue(flavors=[{"name": "gpu", "gpu": True, "nodeLabels": {"-bad/": "true"}}]),
        "platform.components.kueue.flavors.0.nodeLabels.-bad/: '-bad/' is not a label key",
    ),
    "typo in kueue key": (
        _kueue(flavour=[]),
        "platform.components.kueue.flavour: unknown key; allowed keys here:",
    ),
    "single replica under HA": (
        lambda cfg: cfg["platform"].update(highAvailability=True),
        "components.kueue.replicas",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_kueue_config_is_rejected_before_any_resource(case):
    edit, expected = BAD[case]
    cfg = stack_config("dev")
    edit(cfg)
    assert_rejected(cfg, expected)


# Releases whose Kueue has LocalQueueDefaulting off by default (alpha before 0.12).
DEFAULTING_GATE = {"1.10": [{"name": "LocalQueueDefaulting", "enabled": True}]}


@pytest.mark.parametrize("release", RELEASES)
def test_unlabelled_tenant_jobs_join_the_default_queue_on_every_release(program, release):
    """Tenants get LocalQueue `default`; the gate makes Kueue put unlabelled jobs in it."""
    values = program("dev", release).named("kueue", CHART).inputs["values"]
    assert values["controllerManager"].get("featureGates") == DEFAULTING_GATE.get(release)
