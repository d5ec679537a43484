"""Training under mocks: Training Operator v1 everywhere, Trainer v2 where the release has it."""

from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.config.training import Training
from mlplatform.graph import CHART, CONFIG_GROUP, KUSTOMIZE
from mlplatform.overlays import UPSTREAM_OVERLAYS
from tests.conftest import KUBERNETES_FOR, RELEASES, assert_rejected, stack_config
from tests.schema import invalid_objects

OUR_GROUPS = {"kubeflow-namespace-base", "training-operator-extras", "trainer-namespace"}
OPERATOR_PODS = {"control-plane": "kubeflow-training-operator"}  # upstream manifests/base


def _training(**fields):
    def edit(cfg):
        cfg["platform"]["components"]["training"] = fields

    return edit


def test_operator_everywhere_trainer_where_shipped(program, env_release):
    env, release = env_release
    g = program(env, release)
    cat = releases.load(release)
    assert g.named("training", "mlplatform:training:Training")
    source = cat.component("training_operator").source.kustomize
    directory = Path(g.named("training-operator", KUSTOMIZE).inputs["directory"])
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [f"{source.url}?ref={source.ref}"]
    assert [(directory / c).resolve() for c in kustomization["components"]] == [
        UPSTREAM_OVERLAYS / "training-operator"
    ]
    assert g.has("kubeflow-trainer") is cat.has("trainer")
    if cat.has("trainer"):
        chart = g.named("kubeflow-trainer", CHART)
        assert chart.inputs["chart"] == "oci://ghcr.io/kubeflow/charts/kubeflow-trainer"
        assert chart.inputs["version"] == cat.component("trainer").version
        assert chart.inputs["namespace"] == "kubeflow-system"
        cfg = Training.model_validate(
            stack_config(env, release)["platform"]["components"].get("training", {})
        )
        # Chart 2.1.0 declares no `runtimes.*`: its values are JobSet and the two controllers.
        assert chart.inputs["values"] == {
            "manager": {"resources": cfg.trainer_resources.as_k8s()},
            "jobset": {"install": True, "controller": {"resources": cfg.jobset_resources.as_k8s()}},
        }
        runtimes = cat.component("trainer_runtimes").source.kustomize
        assert g.named("trainer-runtimes", KUSTOMIZE).inputs["directory"] == (
            f"{runtimes.url}?ref={runtimes.ref}"
        )


def test_kubeflow_namespace_is_created_once(program, env_release):
    g = program(*env_release)
    namespaces = [o for o in g.objects() if o.kind == "Namespace" and o.name == "kubeflow"]
    assert [o.owner.name for o in namespaces] == ["kubeflow-namespace-base"]
    # The overlay we consume must not ship its own Namespace (standalone does).
    directory = Path(g.named("training-operator", KUSTOMIZE).inputs["directory"])
    assert "overlays/standalone" not in (directory / "kustomization.yaml").read_text()


def test_kubeflow_namespace_for_the_operator_alone(program):
    def operator_only(cfg):  # nothing else in `kubeflow` runs sidecars
        for name in ("pipelines", "katib", "dashboard", "notebooks"):
            cfg["platform"]["components"][name] = {"enabled": False}

    labels = program("dev", edit=operator_only).object("Namespace", "kubeflow")["metadata"]
    assert labels["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_ordering_edges(program, env_release):
    g = program(*env_release)
    operator = g.named("training-operator", KUSTOMIZE)
    assert g.depends_on(operator, g.named("kubeflow-namespace-base", CONFIG_GROUP))
    extras = g.named("training-operator-extras", CONFIG_GROUP)
    assert g.depends_on(extras, g.named("kube-prometheus-stack", CHART))  # PodMonitor CRD
    if g.has("kubeflow-trainer"):
        trainer = g.named("kubeflow-trainer", CHART)
        assert g.depends_on(trainer, g.named("trainer-namespace", CONFIG_GROUP))
        # The runtimes need the chart's CRDs and its validating webhook.
        assert g.depends_on(g.named("trainer-runtimes", KUSTOMIZE), trainer)
    # Nothing of ours waits for training yet.
    training = g.named("training", "mlplatform:training:Training")
    assert not any(training.urn in r.dependencies for r in g.resources)


def test_our_training_objects_are_schema_valid(program, env_release):
    env, release = env_release
    g = program(env, release)
    ours = {o.ref for o in g.objects() if o.owner.name in OUR_GROUPS}
    assert ours
    assert [p for p in invalid_objects(g, KUBERNETES_FOR[release]) if p.split(":")[0] in ours] == []


def test_operator_metrics_and_network_policies(program):
    g = program("dev")
    monitor = g.object("PodMonitor", "training-operator", "kubeflow")
    assert monitor["spec"]["selector"]["matchLabels"] == OPERATOR_PODS
    assert monitor["spec"]["podMetricsEndpoints"] == [{"targetPort": 8080, "path": "/metrics"}]
    policies = {
        o.name: o.obj["spec"]
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == "kubeflow"
    }
    assert {"default-deny", "allow-dns", "allow-apiserver-egress"} <= set(policies)
    webhooks, scrape = policies["training-operator-webhooks"], policies["training-operator-scrape"]
    assert webhooks["podSelector"] == scrape["podSelector"] == {"matchLabels": OPERATOR_PODS}
    assert webhooks["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9443}]}]
    assert scrape["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    source = scrape["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert source == {"kubernetes.io/metadata.name": "monitoring"}


def test_trainer_namespace_and_policies(program):
    g = program("staging")
    ns = g.object("Namespace", "kubeflow-system")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    policies = {
        o.name
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == "kubeflow-system"
    }
    assert policies == {
        "default-deny",
        "allow-dns",
        "allow-apiserver-egress",
        "allow-webhooks-from-apiserver",
    }


def test_no_pod_monitor_without_monitoring(program):
    def off(cfg):  # same config as test_kueue's, so the recorded graph is shared
        for name in ("monitoring", "certManager", "katib", "notebooks"):
            cfg["platform"]["components"][name] = {"enabled": False}

    g = program("dev", edit=off)
    assert not any(o.kind == "PodMonitor" for o in g.objects() if o.namespace == "kubeflow")
    assert not any(o.name == "training-operator-scrape" for o in g.objects())


@pytest.mark.parametrize("release", RELEASES[1:])
def test_trainer_can_be_turned_off(program, release):
    g = program("dev", release, edit=_training(trainer=False))
    assert not g.has("kubeflow-trainer") and not g.has("trainer-namespace")
    assert not g.has("trainer-runtimes")
    assert g.has("training-operator")


def test_operator_can_be_turned_off(program):
    g = program("staging", edit=_training(operator=False))
    assert not g.has("training-operator") and not g.has("training-operator-extras")
    assert g.has("kubeflow-trainer")
    none = program("staging", edit=_training(operator=False, trainer=False))
    assert not none.has("training") and not none.has("kubeflow-trainer")


def test_release_skew_comes_from_the_catalogue():
    assert [Training().trainer_on(r) for r in RELEASES] == [
        releases.load(r).has("trainer") for r in RELEASES
    ]
    placement = {
        r: releases.load(r).component("trainer").num_proc_per_node_in
        for r in RELEASES
        if releases.load(r).has("trainer")
    }
    assert placement == {"1.11": "runtime", "26.03": "runtime"}


BAD = {
    "trainer on a release without Trainer v2": (
        "1.10",
        _training(trainer=True),
        "components.training.trainer: release 1.10 does not ship Trainer v2 (TrainJob); "
        "releases with it: 1.11, 26.03. Set trainer: false or choose one of those releases",
    ),
    "trainer not a bool": (
        None,
        _training(trainer="maybe"),
        "platform.components.training.trainer: Input should be a valid boolean",
    ),
    "typo in training key": (
        None,
        _training(operater=True),
        "platform.components.training.operater: unknown key; allowed keys here: "
        "jobsetResources, operator, trainer, trainerResources",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_training_config_is_rejected_before_any_resource(case):
    release, edit, expected = BAD[case]
    cfg = stack_config("dev", release)
    edit(cfg)
    assert_rejected(cfg, expected)
