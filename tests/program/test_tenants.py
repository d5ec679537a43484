"""Tenants under mocks: exact resources and fields, ordering, schema, isolation, graph diffs."""

import copy

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform.graph import CONFIG_GROUP, Graph, Resource
from mlplatform.tenancy.isolation import violations
from mlplatform.tenancy.objects import member_binding_name
from tests.conftest import stack_config
from tests.schema import invalid_objects

TENANT = "mlplatform:tenancy:Tenant"
PASSWORD = "random:index/randomPassword:RandomPassword"


def _only(*names):
    def edit(cfg):
        cfg["tenants"] = [t for t in cfg["tenants"] if t["name"] in names]

    return edit


def _tenant_objects(g: Graph, name: str) -> dict[str, dict]:
    group = g.named(f"tenant-{name}", CONFIG_GROUP)
    return {o.ref: o.obj for o in g.objects() if o.owner is group}


def test_one_tenant_registers_exactly_three_resources_and_its_objects(program):
    g = program("dev", edit=_only("team-b"))
    tenant = g.named("team-b", TENANT)
    assert sorted((r.type, r.name) for r in g.descendants(tenant)) == [
        ("kubernetes:yaml/v2:ConfigGroup", "tenant-team-b"),
        (PASSWORD, "team-b-s3-secret-key"),
    ]
    assert sorted(_tenant_objects(g, "team-b")) == sorted(
        [
            "Namespace/team-b",
            f"RoleBinding/team-b/{member_binding_name('admin', 'bob@example.com')}",
            "Profile/team-b",
            "PodDefault/team-b/team-bucket",
            "PodDefault/team-b/team-pipelines",
            "ServiceAccount/team-b/default-editor",
            "RoleBinding/team-b/default-editor",
            "ServiceAccount/team-b/default-viewer",
            "RoleBinding/team-b/default-viewer",
            "LimitRange/team-b/tenant-defaults",
            "ResourceQuota/team-b/tenant-quota",
            *(
                f"NetworkPolicy/team-b/{n}"
                for n in (
                    "default-deny",
                    "allow-dns",
                    "allow-apiserver-egress",
                    "allow-same-namespace",
                    "allow-from-ingress-gateway",
                    "allow-istiod",
                    "allow-prometheus-scrape",
                    "allow-to-pipelines",
                    "allow-to-minio",
                    "allow-to-model-gateway",
                    "allow-to-katib-db-manager",
                    "allow-from-katib-controller",
                    "allow-egress-exceptions",
                )
            ),
            "ServiceEntry/team-b/egress-pypi-org",
            "AuthorizationPolicy/team-b/tenant-access",
            "ClusterQueue/tenant-team-b",
            "LocalQueue/team-b/default",
            "Job/minio/tenant-team-b-bucket",
            "ServiceAccount/team-b/s3-storage",
            "ConfigMap/team-b/kfp-launcher",
            "ConfigMap/team-b/artifact-repositories",
            "ConfigMap/team-b/metadata-grpc-configmap",
            "Secret/minio/tenant-team-b-s3",
            "Secret/team-b/s3-credentials",
        ]
    )


def test_namespace_access_and_quota_fields(program):
    objs = _tenant_objects(program("dev"), "team-a")
    labels = objs["Namespace/team-a"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"  # its spec's (KFP runs)
    assert labels["istio-injection"] == "enabled"
    assert labels["mlplatform.io/tenant"] == "team-a"
    assert labels["pipelines.kubeflow.org/enabled"] == "true"
    admins = objs[f"RoleBinding/team-a/{member_binding_name('admin', 'alice@example.com')}"]
    assert admins["roleRef"]["name"] == "mlplatform-tenant-admin"
    assert [s["name"] for s in admins["subjects"]] == ["alice@example.com"]
    viewers = objs[f"RoleBinding/team-a/{member_binding_name('view', 'bob@example.com')}"]
    assert (viewers["roleRef"]["name"], viewers["subjects"][0]["name"]) == (
        "mlplatform-tenant-view",
        "bob@example.com",
    )
    editor = objs["RoleBinding/team-a/default-editor"]
    assert editor["roleRef"]["name"] == "mlplatform-tenant-edit"
    assert editor["subjects"] == [
        {"kind": "ServiceAccount", "name": "default-editor", "namespace": "team-a"}
    ]
    assert objs["ResourceQuota/team-a/tenant-quota"]["spec"]["hard"] == {
        "requests.cpu": "8",
        "requests.memory": "32Gi",
        "limits.memory": "32Gi",
        "requests.nvidia.com/gpu": "1",
        "pods": "100",
        "requests.storage": "50Gi",
    }
    authz = objs["AuthorizationPolicy/team-a/tenant-access"]["spec"]
    assert authz["rules"][0]["from"][0]["source"]["principals"] == [
        "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
    ]
    assert authz["rules"][0]["when"] == [
        {
            "key": "request.headers[kubeflow-userid]",
            "values": ["alice@example.com", "bob@example.com"],
        }
    ]
    assert authz["rules"][1] == {"from": [{"source": {"namespaces": ["team-a"]}}]}


@pytest.mark.parametrize("release", ["1.11", "26.03"])
def test_gpu_and_cpu_tenants_share_a_cohort(program, release):
    g = program("dev", release)
    cohort_key = "cohortName" if release == "26.03" else "cohort"  # Kueue v1beta2 renamed it
    a = _tenant_objects(g, "team-a")["ClusterQueue/tenant-team-a"]["spec"]
    b = _tenant_objects(g, "team-b")["ClusterQueue/tenant-team-b"]["spec"]
    assert a[cohort_key] == b[cohort_key] == "research"
    assert a["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}
    assert a["resourceGroups"] == [
        {
            "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
            "flavors": [
                {
                    "name": "cpu",
                    "resources": [
                        {"name": "cpu", "nominalQuota": "4", "borrowingLimit": "2"},
                        {"name": "memory", "nominalQuota": "16Gi"},
                        {"name": "nvidia.com/gpu", "nominalQuota": "0"},
                    ],
                },
                {
                    "name": "gpu",
                    "resources": [
                        {"name": "cpu", "nominalQuota": "4"},
                        {"name": "memory", "nominalQuota": "16Gi"},
                        {"name": "nvidia.com/gpu", "nominalQuota": "1"},
                    ],
                },
            ],
        }
    ]
    assert b["resourceGroups"][0]["coveredResources"] == ["cpu", "memory"]
    assert b["resourceGroups"][0]["flavors"][0]["resources"][0] == {
        "name": "cpu",
        "nominalQuota": "4",
        "lendingLimit": "2",
    }
    assert a["preemption"] == {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"}
    lq = _tenant_objects(g, "team-b")["LocalQueue/team-b/default"]
    assert lq["spec"] == {"clusterQueue": "tenant-team-b"}
    ns = _tenant_objects(g, "team-b")["Namespace/team-b"]["metadata"]["annotations"]
    assert ns["mlplatform.io/allowed-priorities"] == "low,default"


def test_many_tenants(program):
    def many(cfg):
        cfg["tenants"] = [
            {"name": f"t{i:02d}", "owners": [f"o{i}@example.com"], "kueue": {"cohort": "research"}}
            for i in range(12)
        ]

    g = program("dev", edit=many)
    tenants = g.of_type(TENANT)
    assert len(tenants) == 12
    for t in tenants:
        assert len(list(g.descendants(t))) == 2
    assert violations(g) == []


def test_storage_job_is_restricted_and_scoped(program):
    objs = _tenant_objects(program("dev"), "team-a")
    job = objs["Job/minio/tenant-team-a-bucket"]
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"] and c["resources"]["requests"]
    assert c["image"].startswith("quay.io/minio/mc:")
    env = {e["name"]: e for e in c["env"]}
    assert env["ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "minio-root"
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "tenant-team-a-s3"
    assert '"arn:aws:s3:::tenant-team-a"' in env["POLICY_JSON"]["value"]
    assert '"arn:aws:s3:::tenant-team-a/*"' in env["POLICY_JSON"]["value"]
    assert env["QUOTA_BYTES"]["value"] == str(20 * 2**30)
    creds = objs["Secret/team-a/s3-credentials"]
    assert creds["metadata"]["annotations"]["serving.kserve.io/s3-usehttps"] == "0"
    assert creds["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"].endswith(":9000")
    assert objs["ServiceAccount/team-a/s3-storage"]["secrets"] == [{"name": "s3-credentials"}]
    assert "secretName: s3-credentials" not in objs["ConfigMap/team-a/kfp-launcher"]["data"]
    assert (
        '"secretName": "s3-credentials"'
        in objs["ConfigMap/team-a/kfp-launcher"]["data"]["providers"]
    )


def test_secret_keys_are_pulumi_secrets_and_never_in_plain_yaml(program):
    g = program("dev")
    group = g.named("tenant-team-a", CONFIG_GROUP)
    assert group.secret_paths == {
        f"objs[{i}].stringData.{key}"
        for i in (0, 1)
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    } | {  # team-a's model registry: its database account, for its server and its Job
        f"objs[{i}].stringData.{key}"
        for i in (2, 3)
        for key in ("MYSQL_USER_NAME", "MYSQL_ROOT_PASSWORD")
    }
    assert "mock-password" not in group.inputs["yaml"]
    assert "mock-password" not in str(g.named("team-a", TENANT).inputs)


def test_tenants_wait_for_queues_mesh_storage_and_roles(program, env_release):
    g = program(*env_release)
    for t in g.of_type(TENANT):
        group = next(r for r in g.children(t) if r.type == CONFIG_GROUP)
        for component in ("kueue", "istio", "minio", "rbac"):
            other = next(
                r for r in g.resources if r.name == component and r.type.startswith("mlplatform:")
            )
            assert g.depends_on(group, other), f"{group.name} must wait for {component}"


def test_tenant_objects_are_schema_valid(program, env_release):
    env, release = env_release
    g = program(env, release)
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    tenant_groups = {f"tenant-{t['name']}" for t in stack_config(env)["tenants"]}
    objs = [o for o in g.objects() if o.owner.name in tenant_groups]
    assert len(objs) >= 25 * len(tenant_groups)
    assert invalid_objects(g, version) == []


def test_isolation_holds_for_every_stack(program, env_release):
    g = program(*env_release)
    assert len(g.of_type(TENANT)) >= 2
    assert violations(g) == []


def _with_objects(g: Graph, objs: list[dict]) -> Graph:
    rogue = Resource("urn:rogue", CONFIG_GROUP, "rogue", {"objs": objs}, "", [])
    return Graph([*g.resources, rogue])


ROGUE = {
    "rbac": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "oops", "namespace": "team-b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "x"},
        "subjects": [{"kind": "ServiceAccount", "name": "default-editor", "namespace": "team-a"}],
    },
    "network": {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "oops", "namespace": "team-b"},
        "spec": {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "team-a"}
                            }
                        }
                    ]
                }
            ],
        },
    },
    "authorization": {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "oops", "namespace": "team-b"},
        "spec": {"rules": [{"from": [{"source": {"namespaces": ["team-a"]}}]}]},
    },
    "queue": {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "LocalQueue",
        "metadata": {"name": "oops", "namespace": "team-a"},
        "spec": {"clusterQueue": "tenant-team-b"},
    },
}


def test_a_shared_label_selector_reaching_other_tenants_is_caught(program):
    """Selectors are evaluated against the namespaces' real labels, not just by name."""
    sneaky = copy.deepcopy(ROGUE["network"])
    sneaky["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {
        "matchExpressions": [{"key": "mlplatform.io/tenant", "operator": "Exists"}]
    }
    found = violations(_with_objects(program("dev"), [sneaky]))
    assert [(v.kind, v.grantee, v.owner) for v in found] == [("network", "team-a", "team-b")]


@pytest.mark.parametrize("kind", list(ROGUE))
def test_a_deliberately_broken_graph_is_caught(program, kind):
    g = _with_objects(program("dev"), [ROGUE[kind]])
    found = violations(g)
    assert [(v.kind, v.grantee, v.owner) for v in found] == [(kind, "team-a", "team-b")]
    assert "team-a" in str(found[0])


def test_a_bucket_policy_reaching_another_bucket_is_caught(program):
    g = program("dev")
    job = copy.deepcopy(g.object("Job", "tenant-team-a-bucket", "minio"))
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    policy = next(e for e in env if e["name"] == "POLICY_JSON")
    policy["value"] = policy["value"].replace("tenant-team-a/*", "tenant-*")
    found = violations(_with_objects(g, [job]))
    assert [(v.kind, v.grantee, v.owner) for v in found] == [("bucket", "team-a", "team-b")]


def test_adding_a_tenant_changes_only_that_tenants_resources(program):
    before = program("dev")

    def add(cfg):
        cfg["tenants"].append({"name": "team-c", "owners": ["carol@example.com"]})

    after = program("dev", edit=add)
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    assert set(old) <= set(new)
    changed = [
        u
        for u in old
        if (old[u].inputs, set(old[u].dependencies)) != (new[u].inputs, set(new[u].dependencies))
    ]
    assert changed == []
    team_c = after.named("team-c", TENANT)
    added = set(new) - set(old)
    assert added == {team_c.urn, *(r.urn for r in after.descendants(team_c))}
