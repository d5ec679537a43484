"""The local kind cluster: config generated from the stack config, lifecycle, logs, fake GPUs."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlplatform.cluster import ROOT, toolchain
from mlplatform.cluster.tools import search_path
from mlplatform.config import PlatformConfig

FAKE_GPU_SCRIPT = ROOT / "scripts" / "fake-gpu.sh"
# API server auditing (platform.components.logging.audit), as kind's auditing guide sets it up
# (kubernetes-sigs/kind v0.32.0 site/content/docs/user/auditing.md): the policy file is mounted
# into the control-plane node and from there into the API server, which writes its log under
# /var/log on the node, where the Alloy DaemonSet's /var/log mount reads it.
AUDIT_POLICY = Path(__file__).with_name("audit-policy.yaml")
AUDIT_POLICY_DIR = "/etc/kubernetes/policies"
AUDIT_LOG_DIR = "/var/log/kubernetes/audit"
AUDIT_LOG = f"{AUDIT_LOG_DIR}/kube-apiserver-audit.log"
AUDIT_LOG_MAX_MB = 100  # rotated by the API server, keeping AUDIT_LOG_BACKUPS old files
AUDIT_LOG_BACKUPS = 2


class ClusterError(RuntimeError):
    """A kind or kubectl step failed; the message says which and why."""


def cluster_name(context: str | None) -> str:
    """kind names its kubeconfig context `kind-<cluster>`; the stack's context decides the name."""
    if not context or not context.startswith("kind-") or context == "kind-":
        raise ClusterError(
            f"cluster.context {context!r} is not a kind context (kind-<name>); set it in the "
            "stack file or pass --no-kind to use that cluster as it is"
        )
    return context.removeprefix("kind-")


def node_image(kubernetes_version: str) -> str:
    images = toolchain().kind.node_images
    if kubernetes_version not in images:
        raise ClusterError(
            f"no pinned kind node image for Kubernetes {kubernetes_version}; pinned: "
            f"{', '.join(sorted(images))} (modules/cluster/toolchain.yaml)"
        )
    return images[kubernetes_version]


def kind_config(config: PlatformConfig) -> dict[str, Any]:
    """1 control plane (publishing the gateway NodePorts on 127.0.0.1) + the labelled workers."""
    kind = toolchain().kind
    image = node_image(config.kubernetes_version)
    control: dict[str, Any] = {"role": "control-plane", "image": image}
    istio = config.components.istio
    if istio.enabled and istio.gateway_node_ports:
        ports = istio.gateway_node_ports
        control["extraPortMappings"] = [
            {
                "containerPort": node,
                "hostPort": host,
                "listenAddress": "127.0.0.1",
                "protocol": "TCP",
            }
            for node, host in (
                (ports.http, kind.host_ports.http),
                (ports.https, kind.host_ports.https),
            )
        ]
    logging = config.components.logging
    if logging.enabled and logging.audit:
        control.update(audit_patch())
    workers = [{"role": "worker", "image": image, "labels": dict(w.labels)} for w in kind.workers]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": cluster_name(config.cluster.context),
        "nodes": [control, *workers],
    }


def audit_patch() -> dict[str, Any]:
    """The control-plane node's kubeadm patch and mount enabling the API server audit log.

    The patch carries no apiVersion and the map form of extraArgs: kind merges it into its
    kubeadm v1beta3 config (Kubernetes < 1.36) and converts it for v1beta4 (kind v0.32.0
    pkg/internal/patch/kubeadm_merge.go mergeExtraArgs, pkg/cluster/internal/kubeadm/config.go).
    """
    cluster_configuration = {
        "kind": "ClusterConfiguration",
        "apiServer": {
            "extraArgs": {
                "audit-policy-file": f"{AUDIT_POLICY_DIR}/{AUDIT_POLICY.name}",
                "audit-log-path": AUDIT_LOG,
                "audit-log-maxsize": str(AUDIT_LOG_MAX_MB),
                "audit-log-maxbackup": str(AUDIT_LOG_BACKUPS),
            },
            "extraVolumes": [
                {
                    "name": "audit-policies",
                    "hostPath": AUDIT_POLICY_DIR,
                    "mountPath": AUDIT_POLICY_DIR,
                    "readOnly": True,
                    "pathType": "DirectoryOrCreate",
                },
                {
                    "name": "audit-logs",
                    "hostPath": AUDIT_LOG_DIR,
                    "mountPath": AUDIT_LOG_DIR,
                    "readOnly": False,
                    "pathType": "DirectoryOrCreate",
                },
            ],
        },
    }
    return {
        "kubeadmConfigPatches": [yaml.safe_dump(cluster_configuration, sort_keys=False)],
        "extraMounts": [
            {
                "hostPath": str(AUDIT_POLICY.resolve()),
                "containerPath": f"{AUDIT_POLICY_DIR}/{AUDIT_POLICY.name}",
                "readOnly": True,
            }
        ],
    }


@dataclass
class KindCluster:
    """One kind cluster; `kubeconfig` None means kind's default ($KUBECONFIG or ~/.kube/config)."""

    name: str
    kubeconfig: Path | None = None
    path: str = field(default_factory=lambda: search_path(os.environ))

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PATH": self.path}
        if self.kubeconfig:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def _run(self, argv: list[str], capture: bool = False) -> str:
        try:
            done = subprocess.run(
                argv, env=self._env(), check=True, text=True, capture_output=capture
            )
        except FileNotFoundError as err:
            raise ClusterError(f"{argv[0]} not found on PATH; run `mlplatform doctor`") from err
        except subprocess.CalledProcessError as err:
            detail = (err.stderr or "").strip().splitlines()[-1:] if capture else []
            raise ClusterError(
                f"`{' '.join(argv)}` failed with exit code {err.returncode}"
                + (f": {detail[0]}" if detail else "")
            ) from err
        return done.stdout if capture else ""

    def exists(self) -> bool:
        return self.name in self._run(["kind", "get", "clusters"], capture=True).split()

    def create(self, config: dict[str, Any], wait: str = "5m") -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="kind-") as f:
            yaml.safe_dump(config, f, sort_keys=False)
            f.flush()
            argv = ["kind", "create", "cluster", "--name", self.name, "--config", f.name]
            argv += ["--wait", wait]
            if self.kubeconfig:
                argv += ["--kubeconfig", str(self.kubeconfig)]
            self._run(argv)

    def write_kubeconfig(self) -> None:
        """Put this cluster's context into `kubeconfig` (e.g. when reusing a cluster)."""
        if self.kubeconfig:
            argv = ["kind", "export", "kubeconfig", "--name", self.name]
            self._run([*argv, "--kubeconfig", str(self.kubeconfig)])

    def build_and_load(self, image: str, dockerfile: Path, context: Path = ROOT) -> None:
        """`docker build` an image on the host and `kind load` it onto every node."""
        self._run(["docker", "build", "-f", str(dockerfile), "-t", image, str(context)])
        self._run(["kind", "load", "docker-image", image, "--name", self.name])

    def delete(self) -> None:
        argv = ["kind", "delete", "cluster", "--name", self.name]
        if self.kubeconfig:
            argv += ["--kubeconfig", str(self.kubeconfig)]
        self._run(argv)

    def export_logs(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._run(["kind", "export", "logs", str(out_dir), "--name", self.name])
        return out_dir

    def fake_gpus(self) -> dict[str, int]:
        """Advertise `nvidia.com/gpu` on nodes matching each worker spec with fake_gpus > 0."""
        patched: dict[str, int] = {}
        for worker in toolchain().kind.workers:
            if not worker.fake_gpus:
                continue
            selector = ",".join(f"{k}={v}" for k, v in sorted(worker.labels.items()))
            out = self._run(
                [
                    "kubectl",
                    "--context",
                    self.context,
                    "get",
                    "nodes",
                    "-l",
                    selector,
                    "-o",
                    "name",
                ],
                capture=True,
            )
            nodes = [n.removeprefix("node/") for n in out.split()]
            if not nodes:
                raise ClusterError(f"no node labelled {selector} in {self.context}")
            gpus = str(worker.fake_gpus)
            self._run(
                ["bash", str(FAKE_GPU_SCRIPT), "--context", self.context, "--gpus", gpus, *nodes]
            )
            patched.update(dict.fromkeys(nodes, worker.fake_gpus))
        return patched
