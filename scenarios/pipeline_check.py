"""Read one KFP run back through the KFP API as the pod's tenant identity (upgrade rehearsal:
a run recorded before the upgrade must still be there, SUCCEEDED, after it).

Runs in a Job in the tenant namespace with the same projected token as pipeline_submit.

    python -m mlplatform.scenarios.pipeline_check --host http://ml-pipeline.kubeflow:8888 \
        --namespace team-a --run-id 0b6c...
"""

from __future__ import annotations

import argparse
import sys

from mlplatform.scenarios.pipeline_submit import TOKEN_PATH
from mlplatform.scenarios.workloads.distenv import format_metrics


def main(argv: list[str] | None = None) -> int:
    import kfp
    from kfp.client import ServiceAccountTokenVolumeCredentials

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--run-id", required=True)
    a = p.parse_args(argv)
    client = kfp.Client(
        host=a.host,
        namespace=a.namespace,
        credentials=ServiceAccountTokenVolumeCredentials(TOKEN_PATH),
    )
    try:
        state = str(client.get_run(a.run_id).state)
    except Exception as err:  # the API answers 404 (or fails) for a run it lost
        print(format_metrics({"run_id": a.run_id, "state": "MISSING", "error": str(err)[:300]}))
        return 1
    print(format_metrics({"run_id": a.run_id, "state": state}), flush=True)
    return 0 if state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
