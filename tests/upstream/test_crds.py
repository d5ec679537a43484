"""Every custom resource we build validates against the real CRD of its pinned version.

Platform objects (every environment x release case, tenants included) and the conformance
scenarios' objects (every release) are checked as the API server would on create
(tests/crd_schema.py): a served apiVersion, the scope, that version's openAPIV3Schema, and
no unknown field (the server would prune it: a setting silently ignored).

Which CRDs stand for a release: the pinned version's own tag when the cache holds it, else
the nearest patch of the same minor (e.g. Kueue 0.11.4 -> crds/kueue-v0.11.9); no tag of that
minor fails with the tags the cache has. Besides `crds/`, the CRDs upstream vendors elsewhere
in the cache count, at the version they declare: Istio's in kubeflow/manifests (1.26.1,
1.28.0, 1.29.0), prometheus-operator's in kube-prometheus-stack (whose pinned chart's
appVersion is the operator version we run), Trainer's in its chart.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlplatform import kueue_objects, releases
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target, scenarios
from tests.crd_schema import (
    CRD,
    PROJECTS,
    Catalogue,
    _from_yaml,
    nearest,
    schema_problems,
    to_json_schema,
)
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, upstream_graph
from tests.upstream import test_kubeflow_apps as kubeflow_apps
from tests.upstream import test_kustomize_apps as kustomize_apps

RELEASES = releases.available()
CATALOGUE = Catalogue(CACHE.root) if CACHE else None


def catalogue() -> Catalogue:
    assert CATALOGUE is not None
    return CATALOGUE


def custom(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects whose API group a cached CRD defines."""
    groups = catalogue().project_of
    return [o for o in objs if str(o.get("apiVersion", "")).rpartition("/")[0] in groups]


# Kinds in a group another project's CRDs define (kubeflow.org: the training operator) whose
# CRD comes with a Kubeflow app we build from kubeflow/manifests at the release's ref.
BUILT_CRDS = {
    ("kubeflow.org", "Profile"): (kubeflow_apps.upstream, "profiles"),
    ("kubeflow.org", "Experiment"): (kustomize_apps.upstream, "katib"),
    ("kubeflow.org", "PodDefault"): (kubeflow_apps.upstream, "admission-webhook"),
    ("kubeflow.org", "Notebook"): (kubeflow_apps.upstream, "notebook-controller"),
}


def built_crd(release: str, group: str, kind: str) -> CRD:
    build, app = BUILT_CRDS[(group, kind)]
    (doc,) = [
        o
        for o in build(release, app)
        if o["kind"] == "CustomResourceDefinition"
        and (o["spec"]["group"], o["spec"]["names"]["kind"]) == (group, kind)
    ]
    return _from_yaml(doc, Path(f"kubeflow/manifests {release}: {app}"))


def invalid(objs: list[dict[str, Any]], release: str) -> list[str]:
    found = []
    for o in objs:
        group, _, version = str(o["apiVersion"]).rpartition("/")
        if (group, o["kind"]) in BUILT_CRDS:
            crd = built_crd(release, group, o["kind"])
            served, schema = crd.versions.get(version, (False, {}))
            problems = schema_problems(o, schema) if served else [f"{version} not served"]
        else:
            problems = catalogue().problems(o, release)
        found += [f"{ref(o)}: {p}" for p in problems]
    return found


def ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return "/".join(filter(None, (obj.get("kind"), meta.get("namespace"), meta.get("name"))))


def test_tag_rule() -> None:
    tags = ["v0.11.2", "v0.11.9", "v0.12.10", "v0.14.8"]
    assert nearest(tags, "0.11.9") == "v0.11.9"  # the same version
    assert nearest(tags, "0.11.4") == "v0.11.2"  # nearest patch of the minor
    assert nearest(tags, "0.11.7") == "v0.11.9"
    assert nearest(["1.2.2", "1.2.4"], "1.2.3") == "1.2.2"  # the lower on a tie
    assert nearest(tags, "0.13.0") is None  # never another minor


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_every_pinned_project_has_crds_of_its_minor(release: str) -> None:
    rel = releases.load(release)
    for project in PROJECTS:
        if rel.has(project.component):  # type: ignore[arg-type]
            pinned = catalogue().pinned(release, project)
            tag = catalogue().tag_for(release, project)  # raises, naming the cached tags
            assert nearest([tag], pinned) == tag, f"{project.name} {pinned} -> {tag}"


@needs_cache
def test_sources_holding_one_tag_agree() -> None:
    """Where two upstream sources hold the same tag (e.g. Trainer's extraction and its chart's
    crds/), their schemas are identical: the YAML and JSON loaders read the same CRD."""
    pairs = 0
    for project in PROJECTS:
        for tag in catalogue().tags(project.name):
            by_kind: dict[tuple[str, str], list[Any]] = {}
            for crd in catalogue().crds(project.name, tag):
                by_kind.setdefault((crd.group, crd.kind), []).append(crd)
            for (group, kind), crds in by_kind.items():
                for other in crds[1:]:
                    pairs += 1
                    assert (other.scope, other.versions) == (crds[0].scope, crds[0].versions), (
                        f"{kind}.{group} {tag}: {crds[0].source} != {other.source}"
                    )
    assert pairs


@needs_cache
@pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
def test_platform_custom_resources_validate(env: str, release: str) -> None:
    objs = custom([o.obj for o in upstream_graph(env, release).objects()])
    kinds = {o["kind"] for o in objs}
    assert {"ClusterQueue", "LocalQueue", "AuthorizationPolicy", "Certificate"} <= kinds
    assert invalid(objs, release) == []


def scenario_objects(release: str) -> list[dict[str, Any]]:
    """What every scenario runnable on `release` creates, in both serving modes."""
    rel = releases.load(release)
    out = []
    for mode in ("standard", "knative"):
        target = Target(rel, Images.for_release(rel), "t3st01", serving_mode=mode)
        for scenario in scenarios().values():
            if scenario.unsupported(rel) is None:
                out += scenario.build(target).manifests(rel)
    return out


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_scenario_custom_resources_validate(release: str) -> None:
    objs = custom(scenario_objects(release))
    kinds = {o["kind"] for o in objs}
    expected = {"PyTorchJob", "InferenceService", "ServingRuntime", "ClusterQueue", "LocalQueue"}
    if releases.load(release).has("trainer"):
        expected |= {"TrainJob", "TrainingRuntime"}
    assert expected <= kinds
    assert invalid(objs, release) == []


# What the retired hand-written Kueue validator asserted, now on the real schemas.
def _kueue_api(release: str) -> str:
    return releases.load(release).component("kueue").api("kueue")


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_kueue_cohort_field_follows_the_served_version(release: str) -> None:
    api = _kueue_api(release)
    quotas = [kueue_objects.flavor_quotas("cpu", {"cpu": "4"}, {"cpu": "2"}, {})]
    group = [{"coveredResources": ["cpu"], "flavors": quotas}]
    cq = kueue_objects.cluster_queue(api, "team-a", "team-a", group, cohort="research")
    assert catalogue().problems(cq, release) == []
    other = ({"cohort", "cohortName"} - {kueue_objects.cohort_field(api)}).pop()
    wrong = {**cq, "spec": {**cq["spec"], other: "research"}}
    assert catalogue().problems(wrong, release) == [
        f".spec.{other}: unknown field (the API server prunes it silently)"
    ]


@needs_cache
def test_unserved_and_unknown_api_versions_are_rejected() -> None:
    flavor = kueue_objects.resource_flavor("kueue.x-k8s.io/v1beta2", "gpu", {"a": "b"})
    assert catalogue().problems(flavor, "26.03") == []
    # Kueue 0.14 (release 1.11) serves only v1beta1.
    assert catalogue().problems(flavor, "1.11") == [
        "apiVersion kueue.x-k8s.io/v1beta2: not served by "
        f"{catalogue().crd('1.11', 'kueue.x-k8s.io', 'ResourceFlavor').source} "
        "(served: ['v1beta1'])"
    ]
    alpha = {**flavor, "apiVersion": "kueue.x-k8s.io/v1alpha1"}
    assert "not served" in catalogue().problems(alpha, "26.03")[0]
    unknown = {**flavor, "kind": "ResourceFlavour"}
    assert catalogue().problems(unknown, "26.03") == [
        "kueue v0.16.1 has no CRD for ResourceFlavour.kueue.x-k8s.io"
    ]
    trainjob = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob"}
    assert catalogue().problems(trainjob, "1.10") == [
        "release 1.10 pins no trainer for trainer.kubeflow.org"
    ]


@needs_cache
def test_kueue_values_are_checked_by_the_real_schema() -> None:
    api = _kueue_api("26.03")

    def problems(obj: dict[str, Any]) -> list[str]:
        return catalogue().problems(obj, "26.03")

    typo = kueue_objects.resource_flavor(api, "gpu")
    typo["spec"] = {"nodeLabel": {"a": "b"}}
    assert problems(typo) == [".spec.nodeLabel: unknown field (the API server prunes it silently)"]
    taints = [{"key": f"k{i}", "effect": "NoSchedule"} for i in range(9)]
    assert problems(kueue_objects.resource_flavor(api, "x", node_taints=taints)) == [
        ".spec.nodeTaints: list of 9 fails maxItems 8"
    ]
    big = kueue_objects.workload_priority_class(api, "big", 2**31, "")
    assert problems(big) == [".value: 2147483648 is not a 'int32'"]
    half = kueue_objects.workload_priority_class(api, "half", 1.5, "")  # type: ignore[arg-type]
    assert problems(half) == [".value: 1.5 is not of type 'integer'"]
    whole = kueue_objects.workload_priority_class(api, "whole", 100.0, "")  # type: ignore[arg-type]
    assert problems(whole) == []  # JSON 100.0 is the integer 100
    lots = kueue_objects.flavor_quotas("cpu", {"cpu": "lots"}, {}, {})
    group = [{"coveredResources": ["cpu"], "flavors": [lots]}]
    cq = kueue_objects.cluster_queue(api, "q", "ns", group, queueing_strategy="Fifo")
    found = problems(cq)
    assert (
        found[0] == ".spec.queueingStrategy: 'Fifo' is not one of ['StrictFIFO', 'BestEffortFIFO']"
    )
    assert found[1].startswith(
        ".spec.resourceGroups[0].flavors[0].resources[0].nominalQuota: 'lots' does not match"
    )
    assert len(found) == 2
    cpu = [kueue_objects.flavor_quotas("cpu", {"cpu": "1"}, {}, {})]
    cq = kueue_objects.cluster_queue(
        api, "q", "ns", [{"coveredResources": ["cpu"], "flavors": cpu}] * 17
    )
    assert problems(cq) == [".spec.resourceGroups: list of 17 fails maxItems 16"]


@needs_cache
def test_scope_is_checked() -> None:
    api = _kueue_api("26.03")
    queue = kueue_objects.local_queue(api, "q", "team-a", "team-a")
    del queue["metadata"]["namespace"]
    assert catalogue().problems(queue, "26.03") == [
        "metadata.namespace: unset on a namespaced kind (lands in a default namespace)"
    ]
    flavor = kueue_objects.resource_flavor(api, "gpu")
    flavor["metadata"]["namespace"] = "team-a"
    assert catalogue().problems(flavor, "26.03") == [
        "metadata.namespace: ResourceFlavor is cluster-scoped; the server drops it"
    ]


@needs_cache
def test_misspelled_fields_deep_in_scenario_objects_are_found() -> None:
    objs = {o["kind"]: o for o in custom(scenario_objects("26.03"))}
    job = copy.deepcopy(objs["PyTorchJob"])
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["imag"] = "x"
    isvc = copy.deepcopy(objs["InferenceService"])
    isvc["spec"]["predictor"]["model"]["storageURI"] = "s3://x"
    assert invalid([job, isvc], "26.03") == [
        f"PyTorchJob/{job['metadata']['namespace']}/{job['metadata']['name']}: "
        ".spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].imag: unknown field "
        "(the API server prunes it silently)",
        f"InferenceService/{isvc['metadata']['namespace']}/{isvc['metadata']['name']}: "
        ".spec.predictor.model.storageURI: unknown field (the API server prunes it silently)",
    ]


# The Kubernetes schema extensions, on small schemas written here.
OBJ = {"type": "object"}


def _problems(schema: dict[str, Any], value: Any) -> list[str]:
    root = {"type": "object", "properties": {"spec": schema}}
    return schema_problems({"apiVersion": "x/v1", "kind": "X", "spec": value}, root)


def test_int_or_string() -> None:
    schema = {"x-kubernetes-int-or-string": True, "pattern": "^[0-9]+%?$"}
    assert _problems(schema, 3) == _problems(schema, "30%") == []
    assert _problems(schema, "3x") == [".spec: '3x' does not match '^[0-9]+%?$'"]
    assert _problems(schema, True) != []
    assert _problems({**schema, "nullable": True}, None) == []


def test_nullable() -> None:
    assert _problems({"type": "string", "nullable": True}, None) == []
    assert _problems({"type": "string", "enum": ["a"], "nullable": True}, None) == []
    assert _problems({"type": "string"}, None) == [".spec: None is not of type 'string'"]


def test_unknown_fields_are_pruned_unless_preserved() -> None:
    declared = {**OBJ, "properties": {"a": {"type": "string"}}}
    assert _problems(declared, {"a": "x", "b": 1}) == [
        ".spec.b: unknown field (the API server prunes it silently)"
    ]
    assert _problems(OBJ, {"b": 1}) == [
        ".spec.b: unknown field (the API server prunes it silently)"
    ]
    preserved = {**declared, "x-kubernetes-preserve-unknown-fields": True}
    assert _problems(preserved, {"a": "x", "b": 1}) == []
    assert _problems(preserved, {"a": 1}) == [".spec.a: 1 is not of type 'string'"]
    # Pruning is per node: a declared child of a preserving node still prunes.
    nested = {**OBJ, "x-kubernetes-preserve-unknown-fields": True, "properties": {"c": declared}}
    assert _problems(nested, {"z": 1, "c": {"b": 1}}) == [
        ".spec.c.b: unknown field (the API server prunes it silently)"
    ]
    embedded = {**OBJ, "x-kubernetes-embedded-resource": True, "properties": {"spec": OBJ}}
    assert _problems(embedded, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}) == []
    # Value-only branches (anyOf/allOf) never prune: only the structural node does.
    branched = {**declared, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert to_json_schema(branched)["anyOf"] == [{"required": ["a"]}, {"required": ["b"]}]
    assert _problems(branched, {"a": "x"}) == []


def test_list_types_and_int_formats() -> None:
    listed = {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
    assert _problems(listed, ["a", "a"]) == ['.spec: duplicate set entry "a"']
    item = {**OBJ, "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}
    keyed = {
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }
    assert _problems(keyed, [{"name": "a", "v": 1}, {"name": "b", "v": 1}]) == []
    assert _problems(keyed, [{"name": "a", "v": 1}, {"name": "a", "v": 2}]) == [
        '.spec: duplicate map entry {"name": "a"}'
    ]
    assert _problems({"type": "integer", "format": "int64"}, 2**62) == []
    assert _problems({"type": "integer", "format": "int32"}, -(2**31) - 1) == [
        ".spec: -2147483649 is not a 'int32'"
    ]
