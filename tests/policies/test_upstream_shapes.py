"""Rules judged on the shapes upstream chart and kustomize children take (hand-built, minimal):
a Secret's name in an env var, Istio's injector placeholder image, the NVIDIA chart's MPS
control daemon, a chart from a local cache, and children as the offline check presents them.
Each fixed rule keeps a violating and a compliant case."""

import pytest

from mlplatform import render
from mlplatform.components import gpu
from mlplatform.config.gpu import Gpu
from mlplatform.graph import Graph, Resource
from mlplatform.mirror import image_transform
from mlplatform.policies import views
from mlplatform.policies.core import View
from mlplatform.policies.security import is_reference
from mlplatform.render import Rendered
from tests.policies.test_rules import messages, view, workload

MIRROR = "mirror.corp:5000/ml"
MIRRORED = {"registries": [MIRROR]}

# -- no-plaintext-secret-env: a name, a path or a URL points at a secret ---------------------


def _env(*pairs):
    return workload(ns="kserve", env=[{"name": n, "value": v} for n, v in pairs])


@pytest.mark.parametrize(
    ("name", "value", "reference"),
    [
        ("SECRET_NAME", "webhook-server-cert", True),  # a Secret's name (KServe's controller)
        ("TLS_SECRET_NAME", "a.b_c-1", True),
        ("TOKEN_FILE", "/var/run/secrets/tokens/t", True),
        ("CREDENTIALS_PATH", "/etc/creds/creds.json", True),
        ("SECRET_DIR", "/etc/secret", True),
        ("TOKEN_URL", "https://login.example.com/token", True),
        ("SECRET_NAME", "not a name!", False),
        ("TOKEN_FILE", "hunter2", False),
        ("TOKEN_PATH", "/etc/a b", False),
        ("TOKEN_URL", "https://user:hunter2@login.example.com/", False),
        ("TOKEN_URL", "hunter2", False),
        ("API_TOKEN", "webhook-server-cert", False),
        ("NAME_SECRET", "x", False),
    ],
)
def test_reference_names_need_reference_values(name, value, reference):
    assert is_reference(name, value) is reference


def test_env_naming_a_secret_path_or_url_is_not_a_plaintext_secret():
    compliant = _env(
        ("SECRET_NAME", "webhook-server-cert"),
        ("CLIENT_SECRET_FILE", "/etc/oidc/client-secret"),
        ("TOKEN_URL", "https://login.example.com/token"),
    )
    assert messages("no-plaintext-secret-env", [compliant]) == []


def test_secret_values_behind_reference_looking_names_are_still_caught():
    violating = _env(
        ("SECRET_NAME", "s3cr3t/value=="),
        ("TOKEN_FILE", "hunter2"),
        ("TOKEN_URL", "https://admin:hunter2@minio.example.com/"),
        ("ADMIN_PASSWORD", "hunter2"),
    )
    plain, url = "as a plain value", "to a URL with a password"
    assert messages("no-plaintext-secret-env", [violating]) == [
        ("Deployment/kserve/app", f"container 'app' sets {n} {why} (use valueFrom.secretKeyRef)")
        for n, why in (
            ("SECRET_NAME", plain),
            ("TOKEN_FILE", plain),
            ("TOKEN_URL", url),
            ("ADMIN_PASSWORD", plain),
        )
    ]


# -- images-pinned / allowed-registries: Istio's `image: auto` -------------------------------

INJECTED = {"sidecar.istio.io/inject": "true", "istio": "ingressgateway"}
TEMPLATES = {"inject.istio.io/templates": "gateway", "sidecar.istio.io/inject": "true"}


def gateway(
    labels=INJECTED, annotations=TEMPLATES, name="istio-proxy", image="auto", key="containers"
):
    """The gateway chart's Deployment shape: its proxy container names a placeholder image."""
    container = {"name": name, "image": image, "ports": [{"containerPort": 15090}]}
    meta = {"labels": labels, **({"annotations": annotations} if annotations else {})}
    spec = {key: [container], **({"containers": []} if key != "containers" else {})}
    return view(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
            "spec": {"template": {"metadata": meta, "spec": spec}},
        },
        ours=False,
    )


def test_the_injector_placeholder_on_an_injected_pod_is_not_an_image():
    assert messages("images-pinned", [gateway()]) == []
    assert messages("allowed-registries", [gateway()], MIRRORED) == []


NOT_INJECTED = {
    "no injection label": gateway(labels={"istio": "ingressgateway"}),
    "injection off": gateway(labels={**INJECTED, "sidecar.istio.io/inject": "false"}),
    "no injection template": gateway(annotations={"sidecar.istio.io/inject": "true"}),
    "not the proxy container": gateway(name="app"),
    "an init container": gateway(key="initContainers"),
}


@pytest.mark.parametrize("shape", list(NOT_INJECTED), ids=list(NOT_INJECTED))
def test_auto_where_the_injector_does_not_replace_it_is_unpinned(shape):
    ref = "Deployment/istio-system/istio-ingressgateway"
    assert messages("images-pinned", [NOT_INJECTED[shape]]) == [
        (ref, "image auto has neither a tag nor a digest")
    ]
    assert messages("allowed-registries", [NOT_INJECTED[shape]], MIRRORED) == [
        (ref, f"image auto is not from an allowed registry ({MIRROR})")
    ]


def test_a_second_auto_beside_the_injected_proxy_is_still_caught():
    v = gateway()
    pod = v.props["spec"]["template"]["spec"]
    pod["containers"].append({"name": "helper", "image": "auto"})
    assert messages("images-pinned", [v]) == [
        (
            "Deployment/istio-system/istio-ingressgateway",
            "image auto has neither a tag nor a digest",
        )
    ]


# -- the NVIDIA chart's DaemonSets: exact allow-list entries ---------------------------------

MPS_VOLUMES = [
    {"name": "mps-root", "hostPath": {"path": "/run/nvidia/mps", "type": "DirectoryOrCreate"}},
    {"name": "mps-shm", "hostPath": {"path": "/run/nvidia/mps/shm"}},
]


def mps_daemon(name=gpu.MPS_CONTROL_DAEMON, ns=gpu.NAMESPACE, host_pid=False):
    """The MPS control daemon's shape: privileged mount init and daemon, MPS root from the host."""
    privileged = {"privileged": True}
    spec = {
        "initContainers": [
            {
                "name": "mps-control-daemon-mounts",
                "image": "nvcr.io/x:1",
                "securityContext": privileged,
            }
        ],
        "containers": [
            {
                "name": "mps-control-daemon-ctr",
                "image": "nvcr.io/x:1",
                "securityContext": privileged,
            }
        ],
        "volumes": MPS_VOLUMES,
        "nodeSelector": {"nvidia.com/mps.capable": "true"},
        **({"hostPID": True} if host_pid else {"shareProcessNamespace": True}),
    }
    return view(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": spec}},
        },
        ours=False,
    )


def test_the_mps_control_daemon_is_allowed_by_exact_name_only():
    assert messages("no-privileged-containers", [mps_daemon()]) == []
    assert messages("no-host-path", [mps_daemon()]) == []
    look_alikes = [mps_daemon(ns="team-a"), mps_daemon(name="nvidia-device-plugin-mps-x")]
    refs = [v.ref for v in look_alikes]
    assert messages("no-privileged-containers", look_alikes) == [
        (ref, f"container '{c}' runs privileged")
        for ref in refs
        for c in ("mps-control-daemon-mounts", "mps-control-daemon-ctr")
    ]
    assert messages("no-host-path", look_alikes) == [
        (ref, f"volume '{v['name']}' mounts hostPath {v['hostPath']['path']}")
        for ref in refs
        for v in MPS_VOLUMES
    ]


def test_the_mps_control_daemon_may_not_share_the_host_pid_namespace():
    assert messages("no-host-namespaces", [mps_daemon()]) == []
    assert messages("no-host-namespaces", [mps_daemon(host_pid=True)]) == [
        (f"DaemonSet/{gpu.NAMESPACE}/{gpu.MPS_CONTROL_DAEMON}", "pod template uses hostPID")
    ]


def test_the_device_plugin_itself_may_mount_host_paths_but_not_run_privileged():
    plugin = workload(
        kind="DaemonSet",
        name=gpu.RELEASE,
        ns=gpu.NAMESPACE,
        pod={"volumes": [{"name": "dp", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}]},
        securityContext={"privileged": True},
    )
    assert messages("no-host-path", [plugin]) == []
    assert messages("no-privileged-containers", [plugin]) == [
        (f"DaemonSet/{gpu.NAMESPACE}/{gpu.RELEASE}", "container 'app' runs privileged")
    ]


# -- cert-manager-for-webhooks: the chart from a local cache ---------------------------------

CHART = "kubernetes:helm.sh/v4:Chart"
CERT = view(
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "serving-cert", "namespace": "kserve"},
        "spec": {"secretName": "serving-cert"},
    }
)


def test_cert_manager_from_a_cache_directory_counts_as_installed():
    cached = View(
        CHART, "cert-manager", {"chart": "/c/charts/cert-manager/v1.19.4", "version": "v1.19.4"}
    )
    assert messages("cert-manager-for-webhooks", [CERT, cached]) == []
    other = View(CHART, "kserve", {"chart": "/c/charts/kserve/v0.15.0", "version": "v0.15.0"})
    assert messages("cert-manager-for-webhooks", [CERT, other]) == [
        ("Certificate/kserve/serving-cert", "needs cert-manager, which this stack does not install")
    ]


# -- the offline check's view of rendered children -------------------------------------------


CM = "config-manager"


def _device_plugin_children():
    ours = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": gpu.NAMESPACE}}
    plugin = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": gpu.RELEASE, "namespace": gpu.NAMESPACE},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [
                        {"name": "init", "image": "nvcr.io/nvidia/p:v1", "command": [CM]}
                    ],
                    "containers": [
                        {"name": "sidecar", "image": "nvcr.io/nvidia/p:v1", "command": [CM]},
                        {"name": "ctr", "image": "nvcr.io/nvidia/p:v1", "command": ["plugin"]},
                    ],
                }
            }
        },
    }
    component = Resource(
        "urn:gpu",
        "mlplatform:gpu:GpuDevicePlugin",
        "gpu",
        {},
        "",
        [],
        transforms=[gpu.bound_containers(Gpu())],
    )
    group = Resource(
        "urn:base", "kubernetes:yaml/v2:ConfigGroup", "gpu-base", {"objs": [ours]}, "urn:gpu", []
    )
    graph = Graph([component, group], transforms=[image_transform(MIRROR)])
    ours_obj = graph.objects()[0].obj
    return graph, render.applied(
        graph, Rendered(objects={"gpu": [ours_obj, plugin]}, upstream={"gpu": [plugin]})
    )


def test_rendered_children_get_their_component_and_stack_transforms_and_ours_stay_out():
    _, rendered = _device_plugin_children()
    (child,) = views.from_rendered(rendered)
    assert child.ref == f"DaemonSet/{gpu.NAMESPACE}/{gpu.RELEASE}" and not child.ours
    pod = child.props["spec"]["template"]["spec"]
    init, sidecar, ctr = [*pod["initContainers"], *pod["containers"]]
    # The config-manager containers, which no chart value reaches, are bounded; the plugin's
    # own container gets its resources from the chart's `resources` value instead.
    assert init["resources"] == sidecar["resources"] == Gpu().resources.as_k8s()
    assert "resources" not in ctr
    assert {c["image"] for c in (init, sidecar, ctr)} == {f"{MIRROR}/nvidia/p:v1"}
    assert messages("allowed-registries", [child], MIRRORED) == []


def test_the_mirror_leaves_the_injector_placeholder_alone():
    graph = Graph([], transforms=[image_transform(MIRROR)])
    children = Rendered(upstream={"istio": [dict(gateway().props)]})
    (child,) = views.from_rendered(render.applied(graph, children))
    assert child.props["spec"]["template"]["spec"]["containers"][0]["image"] == "auto"
    assert messages("images-pinned", [child]) == []
    assert messages("allowed-registries", [child], MIRRORED) == []
