"""Every policy: a violating and a compliant hand-built resource, exact messages."""

import copy

import pytest

from mlplatform.policies.core import Policy, View
from mlplatform.policies.pods import pod_templates
from mlplatform.policies.registry import POLICIES, by_name, evaluate, level
from mlplatform.policies.supply_chain import ImageRef
from tests.policies.conftest import view

SC = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
RES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}


def container(**over):
    c = {
        "name": "app",
        "image": "ghcr.io/example/app:1.0",
        "resources": RES,
        "securityContext": SC,
        "livenessProbe": PROBE,
        "readinessProbe": PROBE,
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def workload(
    kind="Deployment",
    name="app",
    ns="team-a",
    pod=None,
    replicas=None,
    labels=None,
    **container_over,
):
    spec = {"containers": [container(**container_over)], **(pod or {})}
    body = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
    }
    if replicas:
        body["replicas"] = replicas
    meta = {"name": name, "namespace": ns, **({"labels": labels} if labels else {})}
    return view({"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": body})


def obj(kind, name, ns=None, api="v1", **fields):
    meta = {"name": name, **({"namespace": ns} if ns else {}), **fields.pop("meta", {})}
    return view({"apiVersion": api, "kind": kind, "metadata": meta, **fields})


def tenant(name="team-a", enforce="restricted", **parts):
    """A fenced tenant namespace; pass part=None to leave one out."""
    labels = {"mlplatform.io/tenant": name}
    if enforce:
        labels["pod-security.kubernetes.io/enforce"] = enforce
    deny = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    found = {
        "ns": obj("Namespace", name, meta={"labels": labels}),
        "deny": obj("NetworkPolicy", "default-deny", name, "networking.k8s.io/v1", spec=deny),
        "quota": obj("ResourceQuota", "quota", name, spec={"hard": {"pods": "10"}}),
        "limits": obj("LimitRange", "limits", name, spec={"limits": []}),
        "queue": obj(
            "LocalQueue", name, name, "kueue.x-k8s.io/v1beta1", spec={"clusterQueue": name}
        ),
    }
    found.update(parts)
    return [v for v in found.values() if v is not None]


def messages(policy: str, views, config=None):
    return [
        (v.resource.ref if v.resource else "stack", v.message)
        for v in by_name(policy).run(views, config)
    ]


GPU = {
    "requests": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
    "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
}
ADD_NET_ADMIN = {"drop": ["ALL"], "add": ["NET_ADMIN"]}
FROM_B = {"matchLabels": {"mlplatform.io/tenant": "team-b"}}
CERT = obj("Certificate", "tls", "istio-system", "cert-manager.io/v1", spec={"secretName": "tls"})
CASES = {
    "no-privileged-containers": (
        [workload(securityContext={**SC, "privileged": True})],
        [("Deployment/team-a/app", "container 'app' runs privileged")],
        [workload()],
    ),
    "no-host-namespaces": (
        [workload(pod={"hostPID": True, "hostIPC": True})],
        [
            ("Deployment/team-a/app", "pod template uses hostPID"),
            ("Deployment/team-a/app", "pod template uses hostIPC"),
        ],
        [
            workload(
                kind="DaemonSet",
                name="kps-prometheus-node-exporter",
                ns="monitoring",
                pod={"hostNetwork": True, "hostPID": True},
            )
        ],
    ),
    "no-host-path": (
        [workload(pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]})],
        [("Deployment/team-a/app", "volume 'root' mounts hostPath /")],
        [
            workload(
                kind="DaemonSet",
                name="nvidia-device-plugin",
                ns="nvidia-device-plugin",
                pod={"volumes": [{"name": "dp", "hostPath": {"path": "/var/lib/kubelet"}}]},
            )
        ],
    ),
    "tenant-run-as-non-root": (
        [*tenant(), workload(securityContext={**SC, "runAsNonRoot": None, "runAsUser": 0})],
        [("Deployment/team-a/app", "container 'app' may run as root (set runAsNonRoot: true)")],
        # pod-level runAsNonRoot counts; platform namespaces are not tenants
        [
            *tenant(),
            workload(
                pod={"securityContext": {"runAsNonRoot": True}},
                securityContext={"allowPrivilegeEscalation": False},
            ),
            workload(ns="platform", securityContext={}),
        ],
    ),
    "tenant-no-privilege-escalation": (
        [*tenant(), workload(securityContext={"runAsNonRoot": True})],
        [
            (
                "Deployment/team-a/app",
                "container 'app' allows privilege escalation (set allowPrivilegeEscalation: false)",
            )
        ],
        [*tenant(), workload()],
    ),
    "read-only-root-filesystem": (
        [workload(securityContext={"runAsNonRoot": True})],
        [
            (
                "Deployment/team-a/app",
                "container 'app' has a writable root filesystem (set readOnlyRootFilesystem: true)",
            )
        ],
        [workload()],
    ),
    "drop-all-capabilities": (
        [workload(securityContext={"capabilities": {"drop": ["NET_RAW"]}})],
        [("Deployment/team-a/app", "container 'app' does not drop ALL capabilities")],
        [workload()],
    ),
    "no-dangerous-capabilities": (
        [*tenant(), workload(securityContext={**SC, "capabilities": ADD_NET_ADMIN})],
        [
            (
                "Deployment/team-a/app",
                "container 'app' adds capability NET_ADMIN (restricted allows only "
                "NET_BIND_SERVICE)",
            )
        ],
        [
            *tenant(),
            workload(
                securityContext={
                    **SC,
                    "capabilities": {**ADD_NET_ADMIN, "add": ["NET_BIND_SERVICE"]},
                }
            ),
        ],
    ),
    "no-plaintext-secret-env": (
        [workload(env=[{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"}])],
        [
            (
                "Deployment/team-a/app",
                "container 'app' sets AWS_SECRET_ACCESS_KEY as a plain value "
                "(use valueFrom.secretKeyRef)",
            )
        ],
        [
            workload(
                env=[
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "t"}}},
                ]
            )
        ],
    ),
    "restricted-service-types": (
        [obj("Service", "web", "team-a", spec={"type": "LoadBalancer"})],
        [
            (
                "Service/team-a/web",
                "Service type LoadBalancer is allowed only for "
                "Service/istio-system/istio-ingressgateway",
            )
        ],
        [
            obj("Service", "istio-ingressgateway", "istio-system", spec={"type": "NodePort"}),
            obj("Service", "web", "team-a", spec={"type": "ClusterIP"}),
        ],
    ),
    "tenant-pod-security": (
        [*tenant(enforce=None), *tenant("team-b", enforce="privileged")],
        [
            (
                "Namespace/team-a",
                "tenant namespace team-a has no pod-security.kubernetes.io/enforce label",
            ),
            (
                "Namespace/team-b",
                "tenant namespace team-b enforces 'privileged' (restricted, baseline)",
            ),
        ],
        [*tenant(), *tenant("team-b", enforce="baseline")],
    ),
    "tenant-default-deny": (
        [
            *tenant(
                deny=obj(
                    "NetworkPolicy",
                    "default-deny",
                    "team-a",
                    "networking.k8s.io/v1",
                    spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []},
                )
            )
        ],
        [("Namespace/team-a", "tenant namespace team-a has no default-deny NetworkPolicy")],
        tenant(),
    ),
    "tenant-resource-quota": (
        tenant(quota=None),
        [("Namespace/team-a", "tenant namespace team-a has no ResourceQuota")],
        tenant(),
    ),
    "tenant-limit-range": (
        tenant(limits=None),
        [("Namespace/team-a", "tenant namespace team-a has no LimitRange")],
        tenant(),
    ),
    "tenant-local-queue": (
        tenant(queue=None),
        [("Namespace/team-a", "tenant namespace team-a has no Kueue LocalQueue")],
        tenant(),
    ),
    "tenant-gpu-queue-label": (
        [
            *tenant(),
            workload(kind="Job", resources=GPU),
            workload(
                kind="Job",
                name="wrong-queue",
                resources=GPU,
                labels={"kueue.x-k8s.io/queue-name": "team-b"},
            ),
        ],
        [
            (
                "Job/team-a/app",
                "requests nvidia.com/gpu without the kueue.x-k8s.io/queue-name label",
            ),
            (
                "Job/team-a/wrong-queue",
                "kueue.x-k8s.io/queue-name names LocalQueue 'team-b', not in team-a",
            ),
        ],
        [
            *tenant(),
            workload(kind="Job", resources=GPU, labels={"kueue.x-k8s.io/queue-name": "team-a"}),
            workload(kind="Job", name="cpu-only"),
        ],
    ),
    "tenant-rolebinding-isolation": (
        [
            *tenant(),
            *tenant("team-b"),
            obj(
                "RoleBinding",
                "edit",
                "team-a",
                "rbac.authorization.k8s.io/v1",
                subjects=[{"kind": "ServiceAccount", "name": "runner", "namespace": "team-b"}],
            ),
        ],
        [
            (
                "RoleBinding/team-a/edit",
                "lets tenant team-b into team-a: subject ServiceAccount runner",
            )
        ],
        [
            *tenant(),
            *tenant("team-b"),
            obj(
                "RoleBinding",
                "edit",
                "team-a",
                "rbac.authorization.k8s.io/v1",
                subjects=[
                    {"kind": "ServiceAccount", "name": "runner", "namespace": "team-a"},
                    {"kind": "ServiceAccount", "name": "pipeline-runner"},
                    {"kind": "Group", "name": "system:serviceaccounts:team-a"},
                ],
            ),
        ],
    ),
    "tenant-isolation": (
        [
            *tenant(),
            *tenant("team-b"),
            obj(
                "NetworkPolicy",
                "from-b",
                "team-a",
                "networking.k8s.io/v1",
                spec={"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": FROM_B}]}]},
            ),
        ],
        [
            (
                "NetworkPolicy/team-a/from-b",
                "lets tenant team-b into team-a: namespaceSelector "
                '{"matchLabels": {"mlplatform.io/tenant": "team-b"}} selects team-b',
            )
        ],
        [*tenant(), *tenant("team-b")],
    ),
    "resource-requests-limits": (
        [workload(resources={"requests": {"cpu": "1"}})],
        [
            (
                "Deployment/team-a/app",
                "container 'app' sets no requests.memory, limits.cpu, limits.memory",
            )
        ],
        [workload(), view(workload(resources={}).props, ours=False)],
    ),
    "probes": (
        [workload(livenessProbe=None, readinessProbe=None)],
        [("Deployment/team-a/app", "container 'app' has no livenessProbe, readinessProbe")],
        [workload(), workload(kind="Job", livenessProbe=None, readinessProbe=None)],
    ),
    "pdb-for-replicated": (
        [workload(replicas=3)],
        [("Deployment/team-a/app", "runs 3 replicas without a PodDisruptionBudget")],
        [
            workload(replicas=3),
            workload(name="single"),
            obj(
                "PodDisruptionBudget",
                "app",
                "team-a",
                "policy/v1",
                spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app": "app"}}},
            ),
        ],
    ),
    "no-latest-tag": (
        [workload(image="busybox:latest")],
        [("Deployment/team-a/app", "image busybox:latest uses the latest tag")],
        [workload(image="busybox:1.36")],
    ),
    "allowed-registries": (
        [workload(image="evil.example.com/app:1.0")],
        [
            (
                "Deployment/team-a/app",
                "image evil.example.com/app:1.0 is not from an allowed registry "
                "(docker.io, quay.io, ghcr.io, gcr.io, registry.k8s.io, nvcr.io)",
            )
        ],
        [
            workload(image="busybox:1.36"),
            workload(name="b", image="registry.k8s.io/kueue/kueue:v0.14.4"),
        ],
    ),
    "images-pinned": (
        [workload(image="localhost:5000/team/app")],
        [("Deployment/team-a/app", "image localhost:5000/team/app has neither a tag nor a digest")],
        [
            workload(image="localhost:5000/team/app:2"),
            workload(name="d", image="quay.io/x/y@sha256:" + "0" * 64),
        ],
    ),
    "namespace-network-policy": (
        [obj("Namespace", "minio"), obj("NetworkPolicy", "deny", "other", "networking.k8s.io/v1")],
        [("Namespace/minio", "namespace minio has no NetworkPolicy")],
        [obj("Namespace", "minio"), obj("NetworkPolicy", "deny", "minio", "networking.k8s.io/v1")],
    ),
    "cert-manager-for-webhooks": (
        [
            CERT,
            obj(
                "ValidatingWebhookConfiguration",
                "hook",
                api="admissionregistration.k8s.io/v1",
                meta={"annotations": {"cert-manager.io/inject-ca-from": "kserve/serving-cert"}},
            ),
        ],
        [
            (
                "Certificate/istio-system/tls",
                "needs cert-manager, which this stack does not install",
            ),
            (
                "ValidatingWebhookConfiguration/hook",
                "needs cert-manager, which this stack does not install",
            ),
        ],
        [CERT, View("kubernetes:helm.sh/v4:Chart", "cert-manager", {"chart": "cert-manager"})],
    ),
    "secrets-marked": (
        [
            view(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "s", "namespace": "x"},
                    "stringData": {"rootUser": "admin", "rootPassword": "p", "token": "t"},
                },
                secret_paths=frozenset({"stringData.rootPassword"}),
            )
        ],
        [("Secret/x/s", "stringData.token is not a Pulumi secret")],
        [
            view(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "s", "namespace": "x"},
                    "data": {"password": "cA=="},
                },
                secret_paths=frozenset({"data.password"}),
            )
        ],
    ),
}


def test_every_policy_has_a_case():
    assert set(CASES) | {"waivers-valid"} == {p.name for p in POLICIES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_violating_resources_get_exact_messages(name):
    bad, expected, _ = CASES[name]
    assert messages(name, bad) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_compliant_resources_pass(name):
    assert messages(name, CASES[name][2]) == []


def test_config_extends_allow_lists_and_can_change_levels():
    exposed = [obj("Service", "web", "team-a", spec={"type": "NodePort"})]
    assert messages("restricted-service-types", exposed, {"allowed": ["Service/team-a/*"]}) == []
    pinned = [workload(image="busybox:1.36")]
    assert messages("images-pinned", pinned, {"requireDigest": True}) == [
        ("Deployment/team-a/app", "image busybox:1.36 is not pinned by digest")
    ]
    policy = by_name("no-latest-tag")
    assert level(policy, {"no-latest-tag": "advisory"}) == "advisory"
    assert level(policy, {"no-latest-tag": {"enforcementLevel": "disabled"}}) is None
    assert (
        evaluate(CASES["no-latest-tag"][0], {"no-latest-tag": "disabled"}, policies=[policy]) == []
    )
    with pytest.raises(ValueError, match=r"unknown config \['alowed'\]; known \['allowed'\]"):
        by_name("no-host-path").config({"alowed": []})


def test_policies_are_well_formed():
    with pytest.raises(ValueError, match="give exactly one of check, stack_check"):
        Policy("x", "d", "mandatory")
    with pytest.raises(ValueError, match="every config key needs a schema and a default"):
        Policy("x", "d", "mandatory", check=lambda v, c: [], defaults={"a": 1})
    assert len({p.name for p in POLICIES}) == len(POLICIES)


def _privileged_everywhere(kind, spec, api="kubeflow.org/v1"):
    return view(
        {"apiVersion": api, "kind": kind, "metadata": {"name": "w", "namespace": "t"}, "spec": spec}
    )


BAD = {"name": "main", "image": "busybox:1.36", "securityContext": {"privileged": True}}
POD = {"template": {"spec": {"containers": [BAD]}}}


@pytest.mark.parametrize(
    "kind,spec,api,where",
    [
        ("Pod", {"containers": [BAD]}, "v1", ""),
        ("CronJob", {"jobTemplate": {"spec": POD}}, "batch/v1", ""),
        ("StatefulSet", POD, "apps/v1", ""),
        (
            "PyTorchJob",
            {"pytorchReplicaSpecs": {"Master": POD, "Worker": POD}},
            "kubeflow.org/v1",
            "Master,Worker",
        ),
        (
            "JobSet",
            {"replicatedJobs": [{"name": "node", "template": {"spec": POD}}]},
            "jobset.x-k8s.io/v1alpha2",
            "replicatedJobs[node]",
        ),
        (
            "ClusterTrainingRuntime",
            {
                "template": {
                    "spec": {"replicatedJobs": [{"name": "node", "template": {"spec": POD}}]}
                }
            },
            "trainer.kubeflow.org/v1alpha1",
            "replicatedJobs[node]",
        ),
        (
            "InferenceService",
            {"predictor": {"containers": [BAD]}},
            "serving.kserve.io/v1beta1",
            "predictor",
        ),
    ],
)
def test_pod_templates_inside_every_workload_kind(kind, spec, api, where):
    v = _privileged_everywhere(kind, copy.deepcopy(spec), api)
    expected = [
        f"container 'main'{f' in {w}' if w else ''} runs privileged"
        for w in (where.split(",") if where else [""])
    ]
    assert [m for _, m in messages("no-privileged-containers", [v])] == expected


def test_trainjob_and_isvc_model_count_as_containers():
    tj = view(
        {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainJob",
            "metadata": {"name": "tj", "namespace": "team-a"},
            "spec": {"trainer": {"image": "ghcr.io/x/train:latest", "resourcesPerNode": GPU}},
        }
    )
    assert [t.where for t in pod_templates(tj)] == ["trainer"]
    assert messages("no-latest-tag", [tj]) == [
        ("TrainJob/team-a/tj", "image ghcr.io/x/train:latest uses the latest tag")
    ]
    assert messages("tenant-gpu-queue-label", [*tenant(), tj]) == [
        (
            "TrainJob/team-a/tj",
            "requests nvidia.com/gpu without the kueue.x-k8s.io/queue-name label",
        )
    ]
    isvc = view(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "m", "namespace": "team-a"},
            "spec": {
                "predictor": {
                    "model": {
                        "modelFormat": {"name": "sklearn"},
                        "resources": {"requests": {"cpu": "1"}},
                    }
                }
            },
        }
    )
    assert messages("resource-requests-limits", [isvc]) == [
        (
            "InferenceService/team-a/m",
            "container 'kserve-container' in predictor sets no "
            "requests.memory, limits.cpu, limits.memory",
        )
    ]


@pytest.mark.parametrize(
    "image,parsed",
    [
        ("busybox", ("docker.io", "library/busybox", None, None)),
        ("localhost:5000/a/b:1", ("localhost:5000", "a/b", "1", None)),
        ("quay.io/a/b:1@sha256:ab", ("quay.io", "a/b", "1", "sha256:ab")),
        ("quay.io/a/b@sha256:ab", ("quay.io", "a/b", None, "sha256:ab")),
    ],
)
def test_image_references_parse(image, parsed):
    ref = ImageRef.parse(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == parsed


def test_non_kubernetes_resources_are_ignored_by_resource_rules():
    chart = View("kubernetes:helm.sh/v4:Chart", "x", {"values": {"image": "busybox:latest"}})
    assert messages("no-latest-tag", [chart]) == []


def test_trainjob_security_is_judged_on_its_runtime_not_the_trainer_override():
    """A TrainJob cannot carry a security context; its runtime's pod template does."""
    from mlplatform.policies.core import View
    from mlplatform.policies.pods import containers

    tj = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "t", "namespace": "team-a"},
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {"image": "ghcr.io/x/y:1", "resourcesPerNode": {"limits": {"cpu": "1"}}},
        },
    }
    view = View("kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob", "t", tj)
    assert [c.name for c in containers(view)] == ["trainer"]
    assert list(containers(view, security=True)) == []
