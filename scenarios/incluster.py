"""The conformance suite run by the platform's own CronJob (modules/components/conformance.py).

In a pod there is no kubeconfig: the runner talks to the API server as its ServiceAccount.
That account holds no namespaced rights anywhere; it may create namespaces named `scn-*`
carrying the scenario label (a ValidatingAdmissionPolicy enforces name and label), and
`SelfBinding` binds, right after creating each such namespace, the scenario ClusterRole to
the account in that namespace only. So every right it has inside a namespace is confined to
namespaces it created for one run, and cleanup (deleting the namespace) removes it.

The names below are shared with the component, which builds the objects they name.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlplatform import releases
from mlplatform.manifests import Obj, meta
from mlplatform.scenarios.client import ApiError, Cluster, KubeCluster
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Endpoints, Target
from mlplatform.scenarios.report import Report
from mlplatform.scenarios.runner import execute
from mlplatform.scenarios.waits import Waiter

NAMESPACE = "conformance"
SERVICE_ACCOUNT = "conformance-runner"
SCENARIO_PREFIX = "scn-"  # library.Target.namespace: every generated name starts so
SCENARIO_ROLE = "mlplatform-conformance-scenario"
SCENARIO_BINDING = "conformance-runner"
BUCKET = "conformance"
# The runner's MinIO keys, also as rootUser/rootPassword: serve-and-load reads that pair from
# Endpoints.minio_secret (in MinIO's namespace) to store its model, here in BUCKET.
CREDENTIALS_SECRET = "conformance-s3"
SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
RBAC_PROPAGATION_S = 10.0  # a new RoleBinding reaches the authorizer's cache within this


def endpoints() -> Endpoints:
    return Endpoints(minio_secret=CREDENTIALS_SECRET, model_bucket=BUCKET)


def scenario_binding(namespace: str, account_namespace: str, account: str) -> Obj:
    """The RoleBinding granting the runner the scenario role in one namespace it created."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(SCENARIO_BINDING, namespace),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": SCENARIO_ROLE,
        },
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
    }


class SelfBinding:
    """A `Cluster` that binds the scenario role to the runner in every namespace it creates,
    and waits until the binding is in effect (RBAC is cached briefly)."""

    def __init__(
        self,
        inner: Cluster,
        account_namespace: str,
        account: str,
        sleep: float = 0.5,
        propagation_s: float = RBAC_PROPAGATION_S,
    ) -> None:
        self.inner = inner
        self.account_namespace = account_namespace
        self.account = account
        self.sleep = sleep
        self.propagation_s = propagation_s

    def create(self, obj: Obj) -> Obj:
        live = self._retry(lambda: self.inner.create(obj), obj)
        if obj["kind"] == "Namespace":
            name = obj["metadata"]["name"]
            self.inner.create(scenario_binding(name, self.account_namespace, self.account))
        return live

    def _retry(self, call: Callable[[], Obj], obj: Obj) -> Obj:
        """A 403 in a namespace we just bound ourselves in is retried until RBAC caught up."""
        deadline = time.monotonic() + self.propagation_s
        while True:
            try:
                return call()
            except ApiError as e:
                ns = obj.get("metadata", {}).get("namespace") or ""
                if e.status != 403 or not ns.startswith(SCENARIO_PREFIX):
                    raise
                if time.monotonic() >= deadline:
                    raise
                time.sleep(self.sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def in_cluster_client() -> KubeCluster:
    from kubernetes import client, config

    config.load_incluster_config()
    return KubeCluster(client.ApiClient())


def run(
    release: str,
    scenarios: list[str] | None,
    out_dir: Path,
    keep_on_failure: bool,
    *,
    image: str | None = None,
    registry: str | None = None,
    timeout_scale: float = 1.0,
    cluster: Cluster | None = None,
) -> Report:
    """The suite as the pod's ServiceAccount (`cluster` replaces the in-cluster client)."""
    rel = releases.load(release)
    target = Target(
        rel, Images.for_release(rel, image, registry), secrets.token_hex(3), endpoints()
    )
    account_ns = SA_NAMESPACE_FILE.read_text().strip() if SA_NAMESPACE_FILE.exists() else NAMESPACE
    account = os.environ.get("MLPLATFORM_SERVICE_ACCOUNT", SERVICE_ACCOUNT)
    inner = cluster or in_cluster_client()
    return execute(
        SelfBinding(inner, account_ns, account),
        target,
        scenarios,
        out_dir,
        keep_on_failure,
        context=f"in-cluster:{account_ns}/{account}",
        waiter=Waiter(scale=timeout_scale),
    )
