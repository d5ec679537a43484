"""Serving objects: S3 credentials + ServiceAccount, model upload Job, ServingRuntime,
InferenceService and the in-cluster Locust load Job.

The model is fitted and copied to MinIO by a Job (scenario image fits, `mc` copies), then
served by KServe through our ServingRuntime (the scenario image's KServe model server).
The deployment-mode annotation key is stable across KServe releases; its value is not
(0.16 renamed RawDeployment/Serverless to Standard/Knative): read from the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlplatform.manifests import Obj, meta, secret
from mlplatform.releases import Release
from mlplatform.scenarios.manifests.pods import (
    SCRATCH,
    SCRATCH_PATH,
    Container,
    Size,
    container_security,
    pod_security,
    pod_spec,
    queue_labels,
    queued_job,
)

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
# KServe labels each predictor pod with its InferenceService (InferenceServicePodLabelKey).
ISVC_LABEL = "serving.kserve.io/inferenceservice"
S3_SECRET = "s3-credentials"
S3_SERVICE_ACCOUNT = "s3-reader"
RUNTIME = "mlplatform-sklearn"
MODEL_FORMAT = "sklearn"
HTTP_PORT = 8080
LOAD_PREFIX = "MLPLATFORM_LOAD "
_CREDS = {
    "AWS_ACCESS_KEY_ID": (S3_SECRET, "AWS_ACCESS_KEY_ID"),
    "AWS_SECRET_ACCESS_KEY": (S3_SECRET, "AWS_SECRET_ACCESS_KEY"),
}


@dataclass(frozen=True)
class ModelStore:
    endpoint: str  # host:port inside the cluster
    bucket: str
    prefix: str  # the model's key prefix

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def s3_credentials(
    namespace: str, store: ModelStore, access_key: str, secret_key: str
) -> list[Obj]:
    """The tenant's S3 Secret (KServe annotations) and the ServiceAccount listing it."""
    creds = secret(
        S3_SECRET,
        namespace,
        {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
        **{"serving.kserve.io/s3-endpoint": store.endpoint, "serving.kserve.io/s3-usehttps": "0"},
    )
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(S3_SERVICE_ACCOUNT, namespace),
        "automountServiceAccountToken": False,
        "secrets": [{"name": S3_SECRET}],
    }
    return [creds, account]


def model_upload_job(
    name: str, namespace: str, queue: str, image: str, mc_image: str, store: ModelStore
) -> Obj:
    """Fit the sklearn model (init container), then `mc cp` it to the tenant's prefix."""
    local = f"{SCRATCH_PATH}/model"
    fit = Container(
        "fit",
        image,
        ["python", "-m", "mlplatform.scenarios.workloads.model.fit"],
        ["--model-dir", local],
        Size(cpu="250m", memory="256Mi"),
    )
    copy = Container(
        "upload", mc_image, ["mc"],
        ["--config-dir", f"{SCRATCH_PATH}/.mc", "cp", "--recursive", f"{local}/",
         f"store/{store.bucket}/{store.prefix}/"],
        Size(cpu="100m", memory="128Mi"),
        env={"HOME": SCRATCH_PATH,
             "MC_HOST_store": f"http://$(AWS_ACCESS_KEY_ID):$(AWS_SECRET_ACCESS_KEY)@{store.endpoint}"},
        env_from_secret=_CREDS,
    )  # fmt: skip
    labels = queue_labels(queue)
    spec = pod_spec([copy], init_containers=[fit])
    return queued_job(name, namespace, spec, labels, backoff_limit=1)


def serving_runtime(release: Release, namespace: str, image: str, size: Size) -> Obj:
    """Our sklearn runtime: the scenario image's KServe model server, restricted."""
    server = Container(
        "kserve-container", image, ["python", "-m", "mlplatform.scenarios.workloads.model.serve"],
        ["--model_name={{.Name}}", "--model_dir=/mnt/models", f"--http_port={HTTP_PORT}",
         "--enable_grpc=false", "--request_logging=false"],
        size, ports=[HTTP_PORT],
    ).build()  # fmt: skip
    return {
        "apiVersion": release.component("kserve").api("runtimes"),
        "kind": "ServingRuntime",
        "metadata": meta(RUNTIME, namespace),
        "spec": {
            "supportedModelFormats": [{"name": MODEL_FORMAT, "version": "1", "autoSelect": False}],
            "protocolVersions": ["v1", "v2"],
            "containers": [server],
            "volumes": [{"name": SCRATCH, "emptyDir": {"sizeLimit": "256Mi"}}],
        },
    }


def inference_service(
    release: Release,
    name: str,
    namespace: str,
    store: ModelStore,
    size: Size,
    mode: Literal["standard", "knative"] = "standard",
) -> Obj:
    """One replica of the model from MinIO, read through the tenant's S3 ServiceAccount."""
    modes = release.component("kserve").deployment_modes
    if not modes or mode not in modes:
        raise ValueError(f"release {release.release} KServe has no {mode!r} deployment mode")
    md = meta(name, namespace)
    md["annotations"] = {MODE_ANNOTATION: modes[mode]}
    return {
        "apiVersion": release.component("kserve").api("serving"),
        "kind": "InferenceService",
        "metadata": md,
        "spec": {
            "predictor": {
                "serviceAccountName": S3_SERVICE_ACCOUNT,
                "minReplicas": 1,
                "maxReplicas": 1,
                "securityContext": pod_security(),
                "model": {
                    "modelFormat": {"name": MODEL_FORMAT},
                    "runtime": RUNTIME,
                    "protocolVersion": "v1",
                    "storageUri": store.uri,
                    "resources": size.resources(),
                    "securityContext": container_security(),
                },
            }
        },
    }


def predictor_url(name: str, namespace: str) -> str:
    """The in-cluster URL of a Standard-mode predictor (status.address.url when known)."""
    return f"http://{name}-predictor.{namespace}.svc.cluster.local"


def load_job(
    name: str,
    namespace: str,
    queue: str,
    image: str,
    host: str,
    model: str,
    users: int,
    duration_s: int,
    slo_profile: str,
) -> Obj:
    """Locust (scenarios.load) in the tenant; prints its JSON report on one prefixed line."""
    out = f"{SCRATCH_PATH}/load.json"
    script = (
        f'python -m mlplatform.scenarios.load "$@" --json-out {out}; rc=$?; '
        f'printf "{LOAD_PREFIX}%s\\n" "$(tr -d "\\n" < {out})"; exit $rc'
    )
    args = ["--host", host, "--model", model, "--users", str(users),
            "--duration", str(duration_s), "--slo-profile", slo_profile]  # fmt: skip
    load = Container(
        "load", image, ["sh", "-c", script, "load"], args, Size(cpu="1", memory="512Mi")
    )
    labels = queue_labels(queue)
    return queued_job(name, namespace, pod_spec([load]), labels)
