"""pipeline-run objects: the submitter's ServiceAccount, its KFP RBAC, and the Job."""

from __future__ import annotations

from mlplatform.manifests import Obj, meta
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels, queued_job
from mlplatform.scenarios.pipeline_submit import TOKEN_AUDIENCE, TOKEN_PATH

SUBMITTER = "pipeline-submitter"
RUNNER = "default-editor"  # the ServiceAccount KFP multi-user runs use in a namespace
PIPELINES_ROLE = "kubeflow-pipelines-edit"
_TOKEN_VOLUME = "kfp-token"


def _account(name: str, namespace: str, automount: bool) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, namespace),
        "automountServiceAccountToken": automount,
    }


def _binding(name: str, namespace: str, account: str, role: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def identities(namespace: str) -> list[Obj]:
    """The submitter (KFP API rights) and the run ServiceAccount (edits its namespace)."""
    return [
        _account(SUBMITTER, namespace, automount=False),
        _binding("pipeline-submitter", namespace, SUBMITTER, PIPELINES_ROLE),
        _account(RUNNER, namespace, automount=True),
        _binding("pipeline-runner", namespace, RUNNER, "edit"),
    ]


def submit_job(
    name: str,
    namespace: str,
    queue: str,
    image: str,
    kfp_host: str,
    timeout_s: int,
    arguments: dict[str, str] | None = None,
) -> Obj:
    """Runs scenarios.pipeline_submit with an audience-bound projected token; `arguments` are
    more pipeline parameters."""
    extra = [f"--arg={k}={v}" for k, v in (arguments or {}).items()]
    submit = Container(
        "submit", image, ["python", "-m", "mlplatform.scenarios.pipeline_submit"],
        ["--host", kfp_host, "--namespace", namespace, "--image", image,
         "--timeout", str(timeout_s), *extra],
        Size(cpu="200m", memory="256Mi"),
        mounts={_TOKEN_VOLUME: TOKEN_PATH.rsplit("/", 1)[0]},
    )  # fmt: skip
    token = {
        "name": _TOKEN_VOLUME,
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": TOKEN_AUDIENCE, "path": "token", "expirationSeconds": 3600}}]},
    }  # fmt: skip
    spec = pod_spec([submit], volumes=[token])
    spec["serviceAccountName"] = SUBMITTER  # identity via the projected token only
    labels = queue_labels(queue)
    return queued_job(name, namespace, spec, labels, deadline_s=timeout_s + 120)
