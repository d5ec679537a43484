"""The generated kind config and the kind/kubectl calls, against fake binaries."""

import stat

import pytest
import yaml

from mlplatform.cluster import kind as kindmod
from mlplatform.cluster import toolchain
from mlplatform.cluster.kind import ClusterError, KindCluster, cluster_name, kind_config, node_image
from mlplatform.cluster.lifecycle import load, uses_kind
from mlplatform.config.gpu import GPU_PRESENT_LABEL
from mlplatform.stackconfig import environments


@pytest.fixture(scope="module")
def dev():
    return load("dev")


def test_dev_cluster_shape(dev):
    cfg = kind_config(dev)
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert cfg["name"] == "mlplatform-dev"
    roles = [n["role"] for n in cfg["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    gpu_nodes = [n for n in cfg["nodes"] if n.get("labels", {}).get(GPU_PRESENT_LABEL) == "true"]
    assert len(gpu_nodes) == 1 and gpu_nodes[0]["role"] == "worker"
    assert {n["labels"]["mlplatform.dev/pool"] for n in cfg["nodes"][1:]} == {"cpu", "gpu"}


def test_gateway_node_ports_published_on_loopback(dev):
    ports = dev.components.istio.gateway_node_ports
    mappings = kind_config(dev)["nodes"][0]["extraPortMappings"]
    host = toolchain().kind.host_ports
    assert mappings == [
        {
            "containerPort": ports.http,
            "hostPort": host.http,
            "listenAddress": "127.0.0.1",
            "protocol": "TCP",
        },
        {
            "containerPort": ports.https,
            "hostPort": host.https,
            "listenAddress": "127.0.0.1",
            "protocol": "TCP",
        },
    ]


def test_no_port_mappings_without_fixed_node_ports(dev):
    istio = dev.components.istio.model_copy(update={"gateway_node_ports": None})
    cfg = dev.model_copy(update={"components": dev.components.model_copy(update={"istio": istio})})
    assert "extraPortMappings" not in kind_config(cfg)["nodes"][0]


@pytest.mark.parametrize("version", sorted(toolchain().kind.node_images))
def test_node_image_follows_kubernetes_version(dev, version):
    cfg = kind_config(dev.model_copy(update={"kubernetes_version": version}))
    images = {n["image"] for n in cfg["nodes"]}
    assert len(images) == 1
    (image,) = images
    assert image.startswith(f"kindest/node:v{version}.") and "@sha256:" in image


def test_every_kind_stack_has_a_node_image():
    for env in environments():
        config = load(env)
        if uses_kind(config):
            assert node_image(config.kubernetes_version)


def test_unpinned_kubernetes_version_is_refused():
    with pytest.raises(
        ClusterError,
        match=r"no pinned kind node image for Kubernetes 1\.31; "
        r"pinned: 1\.33, 1\.34, 1\.35, 1\.36 \(modules/cluster/toolchain\.yaml\)",
    ):
        node_image("1.31")


def test_cluster_name_comes_from_the_kind_context():
    assert cluster_name("kind-mlplatform-dev") == "mlplatform-dev"
    for context in ("mlplatform-prod", None, "kind-"):
        with pytest.raises(ClusterError, match="is not a kind context"):
            cluster_name(context)


def _fake(bin_dir, name, body):
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> {bin_dir}/calls\n{body}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_kind_calls(tmp_path, dev):
    _fake(
        tmp_path,
        "kind",
        'if [ "$2" = clusters ]; then echo other; echo mlplatform-dev; fi\n'
        'if [ "$1" = create ]; then cp "$6" ' + str(tmp_path) + "/config.yaml; fi",
    )
    cluster = KindCluster(
        "mlplatform-dev", tmp_path / "kubeconfig", path=f"{tmp_path}:/usr/bin:/bin"
    )
    assert cluster.exists()
    assert not KindCluster("nope", path=cluster.path).exists()
    cluster.create(kind_config(dev))
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == kind_config(dev)
    cluster.write_kubeconfig()
    cluster.export_logs(tmp_path / "logs")
    cluster.delete()
    calls = (tmp_path / "calls").read_text().splitlines()
    kubeconfig = f"--kubeconfig {tmp_path}/kubeconfig"
    assert calls[:2] == ["kind get clusters"] * 2
    assert calls[2].startswith("kind create cluster --name mlplatform-dev --config ")
    assert calls[2].endswith(f"--wait 5m {kubeconfig}")
    assert calls[3:] == [
        f"kind export kubeconfig --name mlplatform-dev {kubeconfig}",
        f"kind export logs {tmp_path}/logs --name mlplatform-dev",
        f"kind delete cluster --name mlplatform-dev {kubeconfig}",
    ]


def test_failed_kind_call_names_the_command(tmp_path):
    _fake(tmp_path, "kind", "echo 'ERROR: failed to create cluster' >&2; exit 1")
    cluster = KindCluster("x", path=f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(
        ClusterError,
        match=r"`kind get clusters` failed with exit code 1: "
        r"ERROR: failed to create cluster",
    ):
        cluster.exists()


def test_fake_gpus_patch_the_gpu_labelled_nodes(tmp_path, monkeypatch):
    _fake(tmp_path, "kubectl", "echo node/mlplatform-dev-worker2")
    script = tmp_path / "fake-gpu.sh"
    script.write_text(f'echo "fake-gpu $*" >> {tmp_path}/calls\n')
    monkeypatch.setattr(kindmod, "FAKE_GPU_SCRIPT", script)
    cluster = KindCluster("mlplatform-dev", path=f"{tmp_path}:/usr/bin:/bin")
    assert cluster.fake_gpus() == {"mlplatform-dev-worker2": 4}
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "kubectl --context kind-mlplatform-dev get nodes -l "
        "mlplatform.dev/pool=gpu,nvidia.com/gpu.present=true -o name",
        "fake-gpu --context kind-mlplatform-dev --gpus 4 mlplatform-dev-worker2",
    ]


def test_fake_gpus_need_a_gpu_node(tmp_path):
    _fake(tmp_path, "kubectl", "true")
    cluster = KindCluster("mlplatform-dev", path=f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(ClusterError, match=r"no node labelled mlplatform\.dev/pool=gpu,"):
        cluster.fake_gpus()


def test_the_repo_fake_gpu_script_exists():
    assert kindmod.FAKE_GPU_SCRIPT.is_file()


def test_scenario_image_built_and_loaded(tmp_path):
    _fake(tmp_path, "docker", "true")
    _fake(tmp_path, "kind", "true")
    cluster = KindCluster("mlplatform-dev", path=f"{tmp_path}:/usr/bin:/bin")
    cluster.build_and_load("ghcr.io/x/scenarios:1", tmp_path / "Dockerfile", tmp_path)
    assert (tmp_path / "calls").read_text().splitlines() == [
        f"docker build -f {tmp_path}/Dockerfile -t ghcr.io/x/scenarios:1 {tmp_path}",
        "kind load docker-image ghcr.io/x/scenarios:1 --name mlplatform-dev",
    ]
