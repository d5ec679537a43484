"""End-to-end NetworkPolicy reachability over the recorded graph: both ends must agree."""

import pytest

from mlplatform.reachability import Endpoint, Network

TEAM_A = Endpoint("team-a", {"app": "trainer"})
TEAM_A_OTHER = Endpoint("team-a", {"app": "notebook"})
TEAM_B = Endpoint("team-b", {"app": "model"})
MINIO = Endpoint("minio", {"app": "minio"})
GATEWAY = Endpoint("istio-system", {"app": "istio-ingressgateway", "istio": "ingressgateway"})
ISTIOD = Endpoint("istio-system", {"app": "istiod"})
PROMETHEUS = Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS = Endpoint("kube-system", {"k8s-app": "kube-dns"})
KFP_API = Endpoint("kubeflow", {"app": "ml-pipeline"})
DEX = Endpoint("auth", {"app": "dex"})
KUEUE = Endpoint("kueue-system", {"control-plane": "controller-manager"})
INTERNET = Endpoint(ip="93.184.216.34")
# Notebooks as the controller labels their pods, with the team's PodDefaults selected.
NOTEBOOK_A = Endpoint(
    "team-a",
    {"statefulset": "nb", "notebook-name": "nb", "team-bucket": "true", "team-pipelines": "true"},
)
NOTEBOOK_B = Endpoint("team-b", {"statefulset": "nb", "notebook-name": "nb"})
DASHBOARD = Endpoint("kubeflow", {"app": "centraldashboard"})
KFAM = Endpoint("kubeflow", {"kustomize.component": "profiles"})
JUPYTER = Endpoint("kubeflow", {"app": "jupyter-web-app"})
PODDEFAULTS = Endpoint("kubeflow", {"app": "poddefaults"})
KATIB = {
    c: Endpoint("kubeflow", {"katib.kubeflow.org/component": c})
    for c in ("controller", "db-manager", "mysql", "ui")
}
SUGGESTION = Endpoint("team-a", {"katib.kubeflow.org/suggestion": "random"})
REGISTRY_DB = Endpoint("kubeflow", {"component": "db"})
REGISTRY_B = Endpoint("team-b", {"component": "model-registry-server"})
# KFP's API server as the injector labels it (an injected pod: security.istio.io/tlsMode).
KFP_API_MESHED = Endpoint("kubeflow", {"app": "ml-pipeline", "security.istio.io/tlsMode": "istio"})

# (source, destination, port, reachable) — what a working, isolated platform must give.
EXPECTED = [
    (TEAM_A, TEAM_A_OTHER, 8080, True),  # same namespace
    (TEAM_A, TEAM_B, 8080, False),  # tenant to tenant
    (TEAM_B, TEAM_A, 8080, False),
    (TEAM_A, MINIO, 9000, True),  # artifacts and models
    (TEAM_A, MINIO, 9001, False),  # not the console
    (TEAM_A, KFP_API, 8888, True),  # pipelines API
    (TEAM_A, Endpoint("kubeflow", {"component": "metadata-grpc-server"}), 8080, True),
    (TEAM_A, Endpoint("kubeflow", {"app": "ml-pipeline-ui"}), 3000, False),  # via the gateway
    (TEAM_A, ISTIOD, 15012, True),  # sidecar config and certificates
    (TEAM_A, DNS, 53, True),
    (TEAM_A, KUEUE, 9443, False),  # no tenant path to controllers
    (TEAM_A, DEX, 5556, False),
    (GATEWAY, TEAM_A, 8080, True),  # user traffic enters through the gateway only
    (GATEWAY, DEX, 5556, True),
    (PROMETHEUS, TEAM_A, 15020, True),  # sidecar metrics
    (PROMETHEUS, MINIO, 9000, True),
    (KFP_API, MINIO, 9000, True),
    (Endpoint("default", {"app": "x"}), MINIO, 9000, False),  # unlabelled namespaces
    # Katib: trials report to the DB manager, the controller calls suggestions, nothing else.
    (TEAM_A, KATIB["db-manager"], 6789, True),
    (KATIB["controller"], SUGGESTION, 6789, True),
    (KATIB["controller"], TEAM_A, 8080, False),
    (TEAM_A, KATIB["mysql"], 3306, False),
    (TEAM_A, KATIB["controller"], 8443, False),
    (GATEWAY, KATIB["ui"], 8080, True),
    (TEAM_A, KATIB["ui"], 8080, False),
    # Model registry: a team reaches the registries' MySQL (its own account) and its own
    # registry server, never another team's.
    (TEAM_A, REGISTRY_DB, 3306, True),
    (TEAM_A, REGISTRY_B, 8080, False),
    (Endpoint("default", {"app": "x"}), REGISTRY_DB, 3306, False),
    # A member's notebook: its team's bucket and KFP, nothing of another team's.
    (NOTEBOOK_A, MINIO, 9000, True),
    (NOTEBOOK_A, KFP_API, 8888, True),
    (NOTEBOOK_A, TEAM_A, 8080, True),
    (NOTEBOOK_A, NOTEBOOK_B, 8888, False),
    (NOTEBOOK_B, NOTEBOOK_A, 8888, False),
    (NOTEBOOK_A, TEAM_B, 8080, False),
    (TEAM_B, NOTEBOOK_A, 8888, False),
    (GATEWAY, NOTEBOOK_A, 8888, True),  # /notebook/<ns>/<name>/: members only (tenant-access)
    (NOTEBOOK_A, DASHBOARD, 8082, False),
    (NOTEBOOK_A, KFAM, 8081, False),
    (NOTEBOOK_A, JUPYTER, 5000, False),
    (NOTEBOOK_A, PODDEFAULTS, 4443, False),
    # The dashboard and the spawner through the gateway; kfam never from outside `kubeflow`.
    (GATEWAY, DASHBOARD, 8082, True),
    (GATEWAY, JUPYTER, 5000, True),
    (GATEWAY, KFAM, 8081, False),
    (DASHBOARD, KFAM, 8081, True),
    (TEAM_A, KFAM, 8081, False),
    # Istio's metrics: Prometheus scrapes every proxy's merged port and istiod, nothing else.
    (PROMETHEUS, GATEWAY, 15020, True),
    (PROMETHEUS, ISTIOD, 15014, True),
    (PROMETHEUS, KFP_API_MESHED, 15020, True),
    (PROMETHEUS, KFP_API, 15020, False),  # a pod without a sidecar
    (PROMETHEUS, KFP_API_MESHED, 8888, False),
    (PROMETHEUS, TEAM_A, 8080, False),
    (TEAM_A, GATEWAY, 15020, False),
    (TEAM_A, ISTIOD, 15014, False),
    (TEAM_A, KFP_API_MESHED, 15020, False),
    (TEAM_A, TEAM_B, 15020, False),
]


@pytest.mark.parametrize(("source", "destination", "port", "reachable"), EXPECTED)
def test_reachability_in_dev(program, source, destination, port, reachable):
    assert Network(program("dev")).can_reach(source, destination, port) is reachable


def test_prod_pins_api_server_egress_so_tenants_cannot_reach_the_internet(program):
    prod, dev = Network(program("prod")), Network(program("dev"))
    vision = Endpoint("vision", {"app": "trainer"})
    assert not prod.can_reach(vision, INTERNET, 443)
    assert prod.can_reach(vision, Endpoint(ip="10.0.0.5"), 443)  # the API server
    assert dev.can_reach(TEAM_A, INTERNET, 443)  # dev pins ports only (kind's IP varies)
    assert not dev.can_reach(TEAM_A, INTERNET, 80)


def test_a_pod_no_policy_selects_is_open():
    from mlplatform.graph import Graph

    assert Network(Graph([])).can_reach(TEAM_A, TEAM_B, 1)


def test_ip_blocks_with_exceptions_and_port_ranges():
    from mlplatform.graph import CONFIG_GROUP, Graph, Resource

    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "team-a"},
        "spec": {
            "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["trainer"]}]},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                        "ports": [{"port": 8000, "endPort": 8100}]}],
        },
    }  # fmt: skip
    net = Network(Graph([Resource("u", CONFIG_GROUP, "g", {"objs": [policy]}, "", [])]))
    assert net.can_reach(TEAM_A, Endpoint(ip="10.2.3.4"), 8050)
    assert not net.can_reach(TEAM_A, Endpoint(ip="10.1.3.4"), 8050)  # excepted
    assert not net.can_reach(TEAM_A, Endpoint(ip="10.2.3.4"), 8200)  # outside the range
    assert net.can_reach(TEAM_A_OTHER, Endpoint(ip="192.168.1.1"), 1)  # not selected: open
