"""Builders for the plain Kubernetes objects our components create (dicts, schema-valid)."""

from __future__ import annotations

from typing import Any, Literal

Obj = dict[str, Any]
PodSecurity = Literal["privileged", "baseline", "restricted"]

MANAGED_BY = {"app.kubernetes.io/managed-by": "mlplatform"}


def meta(name: str, namespace: str | None = None, **labels: str) -> Obj:
    m: Obj = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace:
        m["namespace"] = namespace
    return m


def namespace(
    name: str, pod_security: PodSecurity = "restricted", labels: dict[str, str] | None = None
) -> Obj:
    """A namespace enforcing a Pod Security level (and warning at restricted)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                **MANAGED_BY,
                "pod-security.kubernetes.io/enforce": pod_security,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                **(labels or {}),
            },
        },
    }


def secret(name: str, namespace: str, string_data: dict[str, Any], **annotations: str) -> Obj:
    md = meta(name, namespace)
    if annotations:
        md["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": md,
        "type": "Opaque",
        "stringData": string_data,
    }


def pdb(name: str, namespace: str, selector: dict[str, str], max_unavailable: int = 1) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name, namespace),
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": selector}},
    }


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector matches `labels` (None: nothing, {}: everything)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def restricted_job(
    md: Obj,
    container: str,
    image: str,
    command: list[str],
    env: list[dict[str, Any]],
    pod_labels: dict[str, str],
    run_as: int,
    backoff_limit: int = 6,
) -> Obj:
    """A small one-container Job that passes Pod Security `restricted`: non-root as `run_as`,
    no token, a read-only root with a 16Mi /tmp, sized 10m/32Mi (limits 200m/128Mi)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": md,
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": run_as,
                        "runAsGroup": run_as,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": container,
                            "image": image,
                            "command": command,
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "32Mi"},
                                "limits": {"cpu": "200m", "memory": "128Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def env_from_secret(name: str, secret_name: str, key: str) -> dict[str, Any]:
    """A container env var read from one key of a Secret."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
