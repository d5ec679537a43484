"""Locust load profile for the served model: V1 predict posts from FastHttpUser.

Importing this module imports locust, which gevent-patches the interpreter: only the load
process (`python -m mlplatform.scenarios.load`) or `locust -f` may import it.
"""

from __future__ import annotations

import json

from locust import constant, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

from mlplatform.scenarios.workloads.model import SAMPLE_INSTANCES

HEADERS = {"Content-Type": "application/json"}


class PredictUser(FastHttpUser):
    """Posts `{"instances": ...}` to /v1/models/<model_name>:predict as fast as paced."""

    model_name = "iris"
    body = json.dumps({"instances": SAMPLE_INSTANCES}).encode()
    wait_time = constant(0)

    @task
    def predict(self) -> None:
        path = f"/v1/models/{self.model_name}:predict"
        with self.client.post(
            path, data=self.body, headers=HEADERS, name="v1 predict", catch_response=True
        ) as resp:
            # Non-2xx is already a failure; a 200 must also carry predictions.
            if resp.status_code == 200 and b'"predictions"' not in (resp.content or b""):
                resp.failure("200 without predictions")


def predict_user(model_name: str, rate_per_user: float = 0.0) -> type[PredictUser]:
    """A PredictUser for one model; rate_per_user > 0 paces each user (requests/s)."""
    wait = constant_throughput(rate_per_user) if rate_per_user > 0 else constant(0)
    return type(
        "PredictUser_" + model_name.replace("-", "_"),
        (PredictUser,),
        {"model_name": model_name, "wait_time": wait},
    )
