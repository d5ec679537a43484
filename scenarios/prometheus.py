"""Instant PromQL queries against the platform's Prometheus through the API server's
service proxy (no port-forward, no ingress): `query(s, "up")` -> the result vector."""

from __future__ import annotations

import json
from typing import Any

from mlplatform.scenarios.session import Session, StepFailed


def query(s: Session, promql: str) -> list[dict[str, Any]]:
    """The `data.result` vector of an instant query; StepFailed when Prometheus says error."""
    e = s.target.endpoints
    body = s.cluster.proxy_get(
        e.prometheus_namespace, e.prometheus_service, "api/v1/query", {"query": promql}
    )
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise StepFailed(f"Prometheus refused {promql!r}: {doc.get('error', doc)}")
    return list(doc["data"]["result"])


def value(sample: dict[str, Any]) -> float:
    """An instant-vector sample's value."""
    return float(sample["value"][1])
