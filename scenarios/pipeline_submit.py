"""Submit the conformance pipeline to the KFP API as the pod's tenant identity, and wait.

Runs in a Job in the tenant namespace (pipeline-run scenario). The identity is the pod's
ServiceAccount token projected with the `pipelines.kubeflow.org` audience, which KFP's
multi-user API server authorises with a SubjectAccessReview on the namespace.

    python -m mlplatform.scenarios.pipeline_submit --host http://ml-pipeline.kubeflow:8888 \
        --namespace team-a --image IMG --timeout 900
"""

from __future__ import annotations

import argparse
import sys
import time

from mlplatform.scenarios.workloads.distenv import format_metrics

TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
TOKEN_AUDIENCE = "pipelines.kubeflow.org"


def main(argv: list[str] | None = None) -> int:
    import kfp
    from kfp.client import ServiceAccountTokenVolumeCredentials

    from mlplatform.scenarios.workloads.pipeline import build_pipeline

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--image", required=True, help="component image (must contain kfp)")
    p.add_argument("--min-accuracy", type=float, default=0.8)
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument(
        "--arg", action="append", default=[], metavar="NAME=VALUE",
        help="one more pipeline argument (e.g. registry_url=...); repeatable",
    )  # fmt: skip
    a = p.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in a.arg)
    client = kfp.Client(
        host=a.host,
        namespace=a.namespace,
        credentials=ServiceAccountTokenVolumeCredentials(TOKEN_PATH),
    )
    start = time.monotonic()
    result = client.create_run_from_pipeline_func(
        # The scenario image runs as uid 65532 (scenarios/Dockerfile): restricted tenants admit it.
        build_pipeline(a.image, run_as_non_root=True),
        arguments={"min_accuracy": a.min_accuracy, **extra},
        experiment_name="mlplatform-conformance", namespace=a.namespace,
    )  # fmt: skip
    run = client.wait_for_run_completion(result.run_id, timeout=a.timeout)
    state = str(run.state)
    print(
        format_metrics(
            {
                "run_id": result.run_id,
                "state": state,
                "duration_s": round(time.monotonic() - start, 1),
            }
        ),
        flush=True,
    )
    return 0 if state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
