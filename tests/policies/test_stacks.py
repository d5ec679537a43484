"""Every environment x release passes every mandatory policy; advisories are listed."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)

from mlplatform.cli.policy import stack_config
from mlplatform.policies import views
from mlplatform.policies.pods import images
from mlplatform.policies.registry import evaluate
from tests.conftest import stack_config as stack_values


def test_every_stack_passes_every_mandatory_policy(program, env_release, record_property):
    env, release = env_release
    findings = evaluate(
        views.from_graph(program(env, release)), stack_config(stack_values(env, release))
    )
    mandatory = [
        f"{f.policy.name} {f.resource}: {f.violation.message}"
        for f in findings
        if f.level == "mandatory" and f.waiver is None
    ]
    advisories = [
        f"{f.policy.name} {f.resource}: {f.violation.message}"
        for f in findings
        if f.level == "advisory"
    ]
    record_property("advisories", advisories)
    print(f"{env}-{release} advisories:", *advisories or ["none"], sep="\n  ")
    assert mandatory == []


MIRROR = "mirror.corp:5000/ml"


def test_with_a_mirror_only_mirrored_images_are_allowed(program):
    def mirrored(cfg):
        cfg["platform"]["mirror"] = {"registry": MIRROR}

    config = stack_values("dev")
    mirrored(config)
    pack_config = stack_config(config)
    assert pack_config == {"allowed-registries": {"registries": [MIRROR]}}
    g = program("dev", edit=mirrored)
    seen = views.from_graph(g)
    found = [
        f.resource for f in evaluate(seen, pack_config) if f.policy.name == "allowed-registries"
    ]
    assert found == []
    mirrored_images = [i for v in seen if v.kind for i in images(v.props)]
    assert mirrored_images and all(i.startswith(MIRROR + "/") for i in mirrored_images)
    upstream_only = [f for f in evaluate(seen) if f.policy.name == "allowed-registries"]
    assert len(upstream_only) == len({v.ref for v in seen if v.kind and list(images(v.props))})
