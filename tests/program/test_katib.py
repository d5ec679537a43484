"""Katib under mocks: its kustomization, its config, and what it changes in tenant namespaces."""

from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.components import katib
from mlplatform.components.kueue import frameworks
from mlplatform.config import parse_platform
from mlplatform.graph import KUSTOMIZE
from mlplatform.overlays import UPSTREAM_OVERLAYS
from mlplatform.tenancy.spec import reserved_label_problem
from tests.conftest import assert_rejected, evaluate, secrets_for, stack_config
from tests.schema import problems

TOKEN = "mlplatform:katib:Katib"
# Katib trial kind -> the Kueue integration that queues it.
KUEUE_FRAMEWORK = {
    "Job.v1.batch": "batch/job",
    "PyTorchJob.v1.kubeflow.org": "kubeflow.org/pytorchjob",
    "TrainJob.v1alpha1.trainer.kubeflow.org": "trainer.kubeflow.org/trainjob",
}


def _kustomization(g):
    directory = Path(g.named("katib", KUSTOMIZE).inputs["directory"])
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def _config(g) -> dict:
    (patch,) = [p for p in _kustomization(g)["patches"] if p["target"].get("kind") == "ConfigMap"]
    return yaml.safe_load(yaml.safe_load(patch["patch"])["data"][katib.CONFIG_FILE])


def test_katib_from_the_catalogue_after_what_it_needs(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("katib", TOKEN)
    source = releases.load(release).component("katib").source.kustomize
    assert "/applications/katib/upstream/installs/katib-with-kubeflow" in source.url
    assert _kustomization(g)["resources"] == [f"{source.url}?ref={source.ref}"]
    build = g.named("katib", KUSTOMIZE)
    for earlier in ("cert-manager", "istiod", "kueue", "katib-base", "kubeflow-namespace-base"):
        dep = next(r for r in g.resources if r.name == earlier and r.type.startswith("kubernetes:"))
        assert g.depends_on(build, dep), f"katib must wait for {earlier}"
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name == "katib-base"]
    assert mine and [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_every_trial_kind_is_one_kueue_queues(program, env_release):
    """A trial of a kind Kueue does not manage would run outside the team's quota."""
    env, release = env_release
    g = program(env, release)
    cfg = parse_platform(stack_config(env, release)["platform"])
    kinds = _config(g)["init"]["controller"]["trialResources"]
    assert "Job.v1.batch" in kinds
    assert {KUEUE_FRAMEWORK[k] for k in kinds} <= {"batch/job", *frameworks(cfg)}


def test_what_katib_starts_in_tenant_namespaces_is_restricted_and_sized(program):
    config = _config(program("dev"))
    assert config["init"]["controller"]["injectSecurityContext"] is True
    runtime = config["runtime"]
    for s in runtime["suggestions"]:
        assert s["securityContext"] == katib.RESTRICTED, s["algorithmName"]
        assert s["resources"]["limits"] and s["resources"]["requests"]
    for c in runtime["metricsCollectors"]:
        assert c["waitAllProcesses"] is False, c["kind"]
        assert c["resources"]["limits"] and c["resources"]["requests"]
    tag = releases.load("1.11").component("katib").version
    images = {s["image"] for s in runtime["suggestions"] + runtime["metricsCollectors"]}
    assert images and all(
        i.startswith(f"{katib.IMAGES}/") and i.endswith(f":{tag}") for i in images
    )


def test_katib_config_images_follow_the_mirror():
    config = stack_config("dev")
    config["platform"]["mirror"] = {"registry": "registry.example.com/mirror"}
    runtime = _config(evaluate(config, "dev", secrets_for("dev")))["runtime"]
    images = [e["image"] for group in runtime.values() for e in group]
    assert images and all(i.startswith("registry.example.com/mirror/") for i in images)


def test_mysql_password_is_generated_and_secret(program):
    g = program("dev")
    secret = g.object("Secret", katib.MYSQL_SECRET, "kubeflow")
    assert secret["stringData"] == {katib.MYSQL_PASSWORD_KEY: "mock-password-katib-mysql-password"}
    overlay = (UPSTREAM_OVERLAYS / "katib" / "kustomization.yaml").read_text()
    assert "katib-mysql-secrets" in overlay and "MYSQL_ALLOW_EMPTY_PASSWORD" in overlay


def test_tenants_get_the_injection_label_and_the_katib_paths_only_with_katib(program):
    def ns_and_policies(g):
        labels = g.object("Namespace", "team-a")["metadata"]["labels"]
        names = {
            o.name for o in g.objects() if o.kind == "NetworkPolicy" and o.namespace == "team-a"
        }
        return labels, names

    labels, names = ns_and_policies(program("dev"))
    assert labels.items() >= katib.INJECTION_LABEL.items()
    assert {"allow-to-katib-db-manager", "allow-from-katib-controller"} <= names

    def off(cfg):
        cfg["platform"]["components"]["katib"] = {"enabled": False}

    g = program("dev", edit=off)
    labels, names = ns_and_policies(g)
    assert not labels.keys() & katib.INJECTION_LABEL.keys()
    assert not {n for n in names if "katib" in n}
    assert [r for r in g.resources if r.type == TOKEN] == []


def test_tenants_cannot_set_the_injection_label():
    (key,) = katib.INJECTION_LABEL
    assert reserved_label_problem(key)


def test_early_stopping_is_refused_where_pod_security_is_restricted(program):
    g = program("dev")
    policy = g.object("ValidatingAdmissionPolicy", katib.EARLY_STOPPING_POLICY)
    match = policy["spec"]["matchConstraints"]
    assert match["namespaceSelector"] == {
        "matchLabels": {"pod-security.kubernetes.io/enforce": "restricted"}
    }
    assert match["resourceRules"][0]["resources"] == ["experiments"]
    assert policy["spec"]["validations"][0]["expression"] == "!has(object.spec.earlyStopping)"
    binding = g.object("ValidatingAdmissionPolicyBinding", katib.EARLY_STOPPING_POLICY)
    assert binding["spec"]["validationActions"] == ["Deny"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["components"].update(certManager={"enabled": False}),
            "platform.components.katib.enabled: Katib needs components.certManager",
        ),
        (
            lambda c: c["components"].update(katib={"resources": {"katib-api": {}}}),
            "platform.components.katib.resources.katib-api: not a Katib deployment",
        ),
    ],
)
def test_bad_katib_config_is_rejected_before_any_resource(edit, expected):
    config = stack_config("dev")
    edit(config["platform"])
    assert_rejected(config, expected)


@pytest.mark.parametrize(
    ("early_stopping", "admitted"), [(None, True), ({"algorithmName": "medianstop"}, False)]
)
def test_the_early_stopping_expression_refuses_exactly_early_stopping(early_stopping, admitted):
    """The policy's CEL, evaluated (cel-python) on an Experiment as the tenant writes it."""
    celpy = pytest.importorskip("celpy")
    (validation,) = katib.early_stopping_policy()[0]["spec"]["validations"]
    env = celpy.Environment()
    program = env.program(env.compile(validation["expression"]))
    spec = {"objective": {"type": "maximize"}, "maxTrialCount": 3}
    if early_stopping:
        spec["earlyStopping"] = early_stopping
    experiment = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "spec": spec}
    assert bool(program.evaluate({"object": celpy.json_to_cel(experiment)})) is admitted
