"""The central dashboard (with kfam) and notebooks under mocks: present or absent by config,
ordering, what tenants get for them, routes and authorization."""

from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.components import dashboard
from mlplatform.graph import CONFIG_GROUP, KUSTOMIZE, Graph
from mlplatform.overlays import UPSTREAM_OVERLAYS
from mlplatform.tenancy.objects import MEMBER_ROLE, MEMBER_USER, member_binding_name
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

DASHBOARD = "mlplatform:dashboard:Dashboard"
READ = {"get", "list", "watch"}


def _one(g: Graph, name: str):
    return next(r for r in g.resources if r.name == name and r.type.startswith("kubernetes:"))


def _off(*components: str):
    def edit(cfg):
        for c in components:
            cfg["platform"].setdefault("components", {}).setdefault(c, {})["enabled"] = False

    return edit


def _kustomization(g: Graph, name: str) -> tuple[Path, dict]:
    directory = Path(g.named(name, KUSTOMIZE).inputs["directory"])
    return directory, yaml.safe_load((directory / "kustomization.yaml").read_text())


def _objects(g: Graph, owner: str) -> dict[str, dict]:
    return {o.ref: o.obj for o in g.objects() if o.owner.name == owner}


# -- present or absent -------------------------------------------------------------------------


def test_dashboard_and_kfam_from_the_catalogue_with_our_overlays(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("dashboard", DASHBOARD)
    for app, entry in (("centraldashboard", "centraldashboard"), ("profiles", "kfam")):
        source = releases.load(release).component(entry).source.kustomize
        directory, k = _kustomization(g, app)
        assert k["resources"] == [f"{source.url}?ref={source.ref}"]
        assert [(directory / c).resolve() for c in k["components"]] == [UPSTREAM_OVERLAYS / app]
        assert source.ref == {"1.10": "v1.10.2", "1.11": "v1.11.0", "26.03": "26.03"}[release]
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name == "dashboard-base"]
    assert mine and [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_disabled_dashboard_leaves_nothing_behind(program):
    g = program("dev", edit=_off("dashboard"))
    assert not g.of_type(DASHBOARD)
    names = {r.name for r in g.resources}
    assert not names & {"centraldashboard", "profiles", "dashboard-base"}
    assert [o.ref for o in g.objects() if o.kind == "Profile"] == []


def test_dashboard_waits_for_identity_and_the_kubeflow_namespace(program, env_release):
    g = program(*env_release)
    for app in ("centraldashboard", "profiles", "dashboard-base"):
        for earlier in ("identity-istio", "kubeflow-namespace-base", "dex", "oauth2-proxy"):
            assert g.depends_on(_one(g, app), _one(g, earlier)), f"{app} before {earlier}"
    assert g.depends_on(_one(g, "centraldashboard"), _one(g, "profiles"))


def test_the_apps_need_istio():
    cfg = stack_config("dev")
    cfg["platform"]["components"]["istio"] = {"enabled": False}
    cfg["platform"]["components"]["pipelines"] = {"enabled": False}
    assert_rejected(cfg, "platform.components.dashboard.enabled: needs components.istio")


# -- tenants in the dashboard ------------------------------------------------------------------


def test_each_tenant_has_a_profile_and_one_annotated_binding_per_person(program):
    g = program("dev")
    objs = {o.ref: o.obj for o in g.objects()}
    spec = yaml.safe_load(Path("stacks/Pulumi.dev.yaml").read_text())["config"]
    for tenant in spec["mlplatform:tenants"]:
        ns = tenant["name"]
        people = [(e, "admin") for e in tenant["owners"]]
        people += [(m["email"], m.get("role", "edit")) for m in tenant.get("members", [])]
        profile = objs[f"Profile/{ns}"]
        assert profile["apiVersion"] == dashboard.PROFILE_API
        assert profile["spec"]["owner"] == {"kind": "User", "name": tenant["owners"][0]}
        annotated = {
            ref: o
            for ref, o in objs.items()
            if ref.startswith(f"RoleBinding/{ns}/")
            and MEMBER_USER in o["metadata"].get("annotations", {})
        }
        assert set(annotated) == {
            f"RoleBinding/{ns}/{member_binding_name(role, e)}" for e, role in people
        }
        for e, role in people:
            b = annotated[f"RoleBinding/{ns}/{member_binding_name(role, e)}"]
            # kfam: exactly one subject, the annotations it filters on.
            assert b["subjects"] == [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": e}
            ]
            assert b["metadata"]["annotations"] == {MEMBER_USER: e, MEMBER_ROLE: role}
            assert b["roleRef"]["name"] == f"mlplatform-tenant-{role}"


def test_binding_names_stay_valid_and_distinct():
    a, b = "a.b@example.com", "a-b@example.com"
    assert member_binding_name("edit", a) != member_binding_name("edit", b)
    long = "x" * 64 + "@" + "d" * 180 + ".com"
    assert len(member_binding_name("admin", long)) <= 253


# -- kfam: read-only -----------------------------------------------------------------------------


def test_kfam_can_only_read(program):
    objs = _objects(program("dev"), "dashboard-base")
    role = objs["ClusterRole/kfam-read-only"]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == READ
    assert {(rule["apiGroups"][0], rule["resources"][0]) for rule in role["rules"]} == {
        ("kubeflow.org", "profiles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
    }
    binding = objs["ClusterRoleBinding/kfam-read-only"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": dashboard.KFAM_SERVICE_ACCOUNT, "namespace": "kubeflow"}
    ]


def test_only_the_dashboard_may_call_kfam_and_only_with_get(program):
    objs = _objects(program("dev"), "dashboard-base")
    (policy,) = [o for ref, o in objs.items() if ref.startswith("AuthorizationPolicy/")]
    spec = policy["spec"]
    assert spec["action"] == "ALLOW"
    assert spec["selector"] == {"matchLabels": dashboard.KFAM_PODS}
    (rule,) = spec["rules"]
    assert rule["from"] == [
        {"source": {"principals": ["cluster.local/ns/kubeflow/sa/centraldashboard"]}}
    ]
    assert rule["to"] == [{"operation": {"methods": ["GET"]}}]


# -- the dashboard's route, header and menu --------------------------------------------------------


def _patches(k: dict, kind: str) -> list[dict]:
    return [p for p in k["patches"] if p["target"].get("kind") == kind]


def test_dashboard_route_refuses_membership_writes_first(program):
    _, k = _kustomization(program("dev"), "centraldashboard")
    (route,) = _patches(k, "VirtualService")
    ops = yaml.safe_load(route["patch"])
    assert ops[0] == {
        "op": "add",
        "path": "/spec/gateways",
        "value": ["istio-system/mlplatform-gateway"],
    }
    (refuse,) = [o for o in ops if o["path"] == "/spec/http/0"]
    matches = refuse["value"]["match"]
    assert {m["uri"]["prefix"] for m in matches} >= {
        "/api/workgroup/create",
        "/api/workgroup/add-contributor",
        "/api/workgroup/remove-contributor",
        "/api/workgroup/nuke-self",
    }
    assert all(m["ignoreUriCase"] for m in matches)  # Express routes case-insensitively
    assert refuse["value"]["directResponse"]["status"] == 403


def test_dashboard_reads_the_gateway_user_header_without_registration(program):
    _, k = _kustomization(program("dev"), "centraldashboard")
    env = {
        e["name"]: e["value"]
        for p in _patches(k, "Deployment")
        for c in yaml.safe_load(p["patch"])["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
    }
    assert env == {
        "USERID_HEADER": "kubeflow-userid",
        "USERID_PREFIX": "",
        "REGISTRATION_FLOW": "false",
    }


@pytest.mark.parametrize(
    ("off", "links"),
    [
        ((), {"/jupyter/", "/katib/", None}),
        (("pipelines",), {"/jupyter/", "/katib/"}),
        (("katib", "notebooks"), {None}),
    ],
)
def test_menu_links_only_what_is_deployed(program, off, links):
    _, k = _kustomization(program("dev", edit=_off(*off)), "centraldashboard")
    (config,) = [
        p for p in _patches(k, "ConfigMap") if p["target"]["name"] == "^centraldashboard-config$"
    ]
    menu = yaml.safe_load(yaml.safe_load(config["patch"])["data"]["links"])
    assert {m.get("link") for m in menu["menuLinks"]} == links


# -- notebooks -------------------------------------------------------------------------------------

NOTEBOOKS = "mlplatform:notebooks:Notebooks"
NOTEBOOK_APPS = {
    "notebook-controller": ("notebook_controller", "notebook-controller"),
    "admission-webhook": ("admission_webhook", "admission-webhook"),
    "jupyter-web-app": ("jupyter_web_app", "jupyter"),
}


def test_notebook_apps_from_the_catalogue_with_our_overlays(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("notebooks", NOTEBOOKS)
    for app, (entry, overlay) in NOTEBOOK_APPS.items():
        source = releases.load(release).component(entry).source.kustomize
        directory, k = _kustomization(g, app)
        assert k["resources"] == [f"{source.url}?ref={source.ref}"]
        assert [(directory / c).resolve() for c in k["components"]] == [UPSTREAM_OVERLAYS / overlay]
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name == "notebooks-base"]
    assert mine and [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_disabled_notebooks_leave_nothing_behind(program):
    g = program("dev", edit=_off("notebooks"))
    assert not g.of_type(NOTEBOOKS)
    assert not {r.name for r in g.resources} & {*NOTEBOOK_APPS, "notebooks-base"}
    assert [o.ref for o in g.objects() if o.kind == "PodDefault"] == []
    _, k = _kustomization(g, "centraldashboard")
    (config,) = [
        p for p in _patches(k, "ConfigMap") if p["target"]["name"] == "^centraldashboard-config$"
    ]
    menu = yaml.safe_load(yaml.safe_load(config["patch"])["data"]["links"])
    assert "/jupyter/" not in {m.get("link") for m in menu["menuLinks"]}


def test_notebooks_wait_for_identity_cert_manager_and_the_namespace(program, env_release):
    g = program(*env_release)
    for app in (*NOTEBOOK_APPS, "notebooks-base"):
        for earlier in ("identity-istio", "kubeflow-namespace-base", "cert-manager"):
            assert g.depends_on(_one(g, app), _one(g, earlier)), f"{app} before {earlier}"
    for earlier in ("notebook-controller", "admission-webhook"):
        assert g.depends_on(_one(g, "jupyter-web-app"), _one(g, earlier))


def test_notebooks_need_cert_manager():
    cfg = stack_config("dev")
    cfg["platform"]["components"]["certManager"] = {"enabled": False}
    assert_rejected(cfg, "platform.components.notebooks.enabled: the PodDefault webhook")


@pytest.mark.parametrize("value", ["500m", "1Gi"])
def test_spawner_cpu_is_a_plain_number(value):
    cfg = stack_config("dev")
    cfg["platform"]["components"]["notebooks"] = {"notebookCpu": value}
    assert_rejected(cfg, "platform.components.notebooks.notebookCpu")


def _spawner(g: Graph) -> dict:
    _, k = _kustomization(g, "jupyter-web-app")
    (config,) = [
        p for p in _patches(k, "ConfigMap") if p["target"]["name"] == "^jupyter-web-app-config$"
    ]
    data = yaml.safe_load(config["patch"])["data"]["spawner_ui_config.yaml"]
    return yaml.safe_load(data)["spawnerFormDefaults"]


def test_spawner_offers_no_gpu_only_catalogue_images_and_the_team_poddefaults(program):
    g = program("dev")
    form = _spawner(g)
    assert form["gpus"]["readOnly"] is True
    assert form["gpus"]["value"]["num"] == "none"
    assert form["allowCustomImage"] is False
    images = set(releases.load("1.11").component("jupyter_web_app").images.values())
    offered = {
        i for key in ("image", "imageGroupOne", "imageGroupTwo") for i in form[key]["options"]
    }
    assert offered == images
    assert not [i for i in offered if "cuda" in i or "gaudi" in i]
    assert form["configurations"]["value"] == ["team-bucket", "team-pipelines"]
    assert (form["cpu"]["value"], form["memory"]["value"]) == ("0.5", "1.0Gi")


def test_spawner_images_come_from_the_mirror(program):
    def mirror(cfg):
        cfg["platform"]["mirror"] = {"registry": "registry.internal/mlplatform"}

    form = _spawner(program("dev", edit=mirror))
    assert all(
        i.startswith("registry.internal/mlplatform/")
        for key in ("image", "imageGroupOne", "imageGroupTwo")
        for i in [form[key]["value"], *form[key]["options"]]
    )


def test_every_tenant_gets_its_own_poddefaults(program):
    objs = {o.ref: o.obj for o in program("dev").objects()}
    for ns in ("team-a", "team-b"):
        bucket = objs[f"PodDefault/{ns}/team-bucket"]["spec"]
        env = {e["name"]: e for e in bucket["env"]}
        assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "s3-credentials"
        job = objs[f"Job/minio/tenant-{ns}-bucket"]["spec"]["template"]["spec"]
        job_env = {e["name"]: e.get("value") for c in job["containers"] for e in c["env"]}
        assert env["S3_BUCKET"]["value"] == job_env["BUCKET"]
        assert bucket["selector"] == {"matchLabels": {"team-bucket": "true"}}
        kfp = objs[f"PodDefault/{ns}/team-pipelines"]["spec"]
        (volume,) = kfp["volumes"]
        (source,) = volume["projected"]["sources"]
        assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
        assert {e["name"]: e["value"] for e in kfp["env"]}["KF_PIPELINES_ENDPOINT"] == (
            "http://ml-pipeline.kubeflow:8888"
        )
    # Each namespace's PodDefault names only its own Secret (the Secret is namespaced).
    assert objs["Secret/team-a/s3-credentials"] and objs["Secret/team-b/s3-credentials"]


def test_tenant_tiers_can_run_notebooks_but_not_write_poddefaults(program):
    roles = {o.name: o.obj for o in program("dev").objects() if o.kind == "ClusterRole"}
    view, edit = roles["mlplatform-notebooks-view"], roles["mlplatform-notebooks-edit"]
    assert view["metadata"]["labels"]["rbac.mlplatform.io/aggregate-to-tenant-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.mlplatform.io/aggregate-to-tenant-edit"] == "true"
    written = {r for rule in edit["rules"] for r in rule["resources"]}
    assert written == {"notebooks"}
    assert {v for rule in view["rules"] for v in rule["verbs"]} == READ


def test_gpu_notebooks_are_refused_in_tenant_namespaces(program):
    objs = {o.ref: o.obj for o in program("dev").objects()}
    policy = objs["ValidatingAdmissionPolicy/mlplatform-notebooks-no-gpu"]["spec"]
    assert policy["matchConstraints"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "mlplatform.io/tenant", "operator": "Exists"}]
    }
    (rule,) = policy["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"]) == (["kubeflow.org"], ["notebooks"])
    (validation,) = policy["validations"]
    assert "queue" in validation["message"]
    binding = objs["ValidatingAdmissionPolicyBinding/mlplatform-notebooks-no-gpu"]["spec"]
    assert binding == {"policyName": "mlplatform-notebooks-no-gpu", "validationActions": ["Deny"]}


def test_kfp_poddefault_speaks_the_kfp_sdk(program):
    """kfp.Client() in a notebook finds the endpoint and the token where the SDK looks."""
    client = pytest.importorskip("kfp.client")
    from kfp.client import client as client_module

    objs = {o.ref: o.obj for o in program("dev").objects()}
    spec = objs["PodDefault/team-a/team-pipelines"]["spec"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert client_module.KF_PIPELINES_ENDPOINT_ENV in env
    (mount,) = spec["volumeMounts"]
    (volume,) = spec["volumes"]
    (source,) = volume["projected"]["sources"]
    path = f"{mount['mountPath']}/{source['serviceAccountToken']['path']}"
    assert env[client.KF_PIPELINES_SA_TOKEN_ENV] == path == client.KF_PIPELINES_SA_TOKEN_PATH


def _notebook(containers: list[dict]) -> dict:
    return {"spec": {"template": {"spec": {"containers": containers}}}}


@pytest.mark.parametrize(
    ("resources", "admitted"),
    [
        (None, True),
        ({"requests": {"cpu": "0.5"}, "limits": {"cpu": "0.6", "memory": "1.2Gi"}}, True),
        ({"limits": {"nvidia.com/gpu": "1"}}, False),
        ({"requests": {"nvidia.com/gpu": 1}}, False),
        ({"limits": {"amd.com/gpu": "1"}}, False),
        ({"limits": {"habana.ai/gaudi": "1"}}, False),
    ],
)
def test_the_gpu_policy_expression_refuses_exactly_accelerator_requests(resources, admitted):
    """The policy's CEL, evaluated (cel-python) on Notebooks as the web app or kubectl writes."""
    celpy = pytest.importorskip("celpy")
    from mlplatform.components import notebooks

    policy, _ = notebooks.gpu_refusal()
    (validation,) = policy["spec"]["validations"]
    env = celpy.Environment()
    program = env.program(env.compile(validation["expression"]))
    container = {"name": "nb", "image": "x"} | ({"resources": resources} if resources else {})
    sidecar = {"name": "helper", "image": "y"}  # the GPU may hide in any container
    for containers in ([container], [sidecar, container]):
        result = program.evaluate({"object": celpy.json_to_cel(_notebook(containers))})
        assert bool(result) is admitted


def test_tenants_wait_for_the_profile_and_poddefault_crds(program, env_release):
    """A tenant's Profile and PodDefaults need the CRDs kfam's and the webhook's builds ship:
    in one stack the tenants depend on both components; tenant stacks wait for the platform's
    `tenantsReady`, which covers them."""
    from mlplatform.platform import TENANT_PREREQUISITES

    assert {"dashboard", "notebooks"} <= set(TENANT_PREREQUISITES)
    g = program(*env_release)
    tenants = g.of_type("mlplatform:tenancy:Tenant")
    assert tenants
    for t in tenants:
        group = next(r for r in g.children(t) if r.type == CONFIG_GROUP)
        for component in (DASHBOARD, NOTEBOOKS):
            assert g.depends_on(group, g.of_type(component)[0]), f"{t.name} after {component}"
