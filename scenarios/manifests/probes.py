"""Isolation probes: a TCP server in one tenant, clients that must (not) reach it, and
the SubjectAccessReviews a tenant member must be allowed or denied."""

from __future__ import annotations

from typing import Literal

from mlplatform.manifests import Obj
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels, queued_job

PROBE_PORT = 8080
SERVER_LABEL = {"mlplatform.io/probe": "server"}
_SMALL = Size(cpu="50m", memory="64Mi")


def _job(
    name: str,
    namespace: str,
    queue: str,
    container: Container,
    deadline_s: int,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    labels = queue_labels(queue)
    return queued_job(
        name,
        namespace,
        pod_spec([container]),
        labels,
        deadline_s=deadline_s,
        pod_labels=extra_labels,
    )


def server_job(name: str, namespace: str, queue: str, image: str, serve_s: int = 600) -> Obj:
    """An HTTP server on PROBE_PORT for `serve_s` seconds (the reachability target)."""
    server = Container(
        "server",
        image,
        ["python", "-m", "http.server", str(PROBE_PORT)],
        ["--directory", "/tmp"],
        _SMALL,
        ports=[PROBE_PORT],
    )
    return _job(name, namespace, queue, server, serve_s, SERVER_LABEL)


def client_job(
    name: str,
    namespace: str,
    queue: str,
    image: str,
    host: str,
    expect: Literal["reachable", "blocked"],
    timeout_s: int = 5,
) -> Obj:
    """Succeeds only when connecting to host:PROBE_PORT has the expected outcome."""
    client = Container(
        "probe", image, ["python", "-m", "mlplatform.scenarios.probe"],
        ["--host", host, "--port", str(PROBE_PORT), "--expect", expect,
         "--timeout", str(timeout_s)], _SMALL,
    )  # fmt: skip
    return _job(name, namespace, queue, client, 120)


def access_review(user: str, verb: str, resource: str, namespace: str, group: str = "") -> Obj:
    """A SubjectAccessReview: may `user` do `verb` on `group/resource` in `namespace`?"""
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:authenticated"],
            "resourceAttributes": {
                "namespace": namespace, "verb": verb, "group": group, "resource": resource,
            },
        },
    }  # fmt: skip
