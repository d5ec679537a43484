"""Stack-level: namespaces are fenced, cert-manager exists for what needs certificates,
and every Secret value is a Pulumi secret."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mlplatform.graph import CHART
from mlplatform.policies.core import Config, Policy, View, Violation, by_kind

CERT_KINDS = {"Certificate", "Issuer", "ClusterIssuer"}
INJECT = ("cert-manager.io/inject-ca-from", "cert-manager.io/inject-ca-from-secret")
CERT_MANAGER_CRD = "certificates.cert-manager.io"
# Secret keys that hold identifiers (user names, OAuth client IDs), not secrets. Access key
# IDs are credentials here (the same line tests/program/test_secrets.py draws).
IDENTIFIER_KEYS = r"(.*[-_]?)?(user|username|client[-_]?id)"


def _namespaces_fenced(views: Sequence[View], cfg: Config) -> list[Violation]:
    fenced = {v.namespace for v in by_kind(views, "NetworkPolicy")}
    return [
        Violation(f"namespace {ns.object_name} has no NetworkPolicy", ns)
        for ns in by_kind(views, "Namespace")
        if ns.object_name not in fenced
    ]


def _needs_certificates(view: View) -> bool:
    annotations = view.metadata.get("annotations") or {}
    return (view.group == "cert-manager.io" and view.kind in CERT_KINDS) or any(
        a in annotations for a in INJECT
    )


def chart_name(props: Mapping[str, Any]) -> str:
    """A Chart resource's chart: `cert-manager` of a repo name, an oci:// reference or a
    cache directory `<cache>/charts/cert-manager/<version>` (mlplatform.upstream.Cache.chart)."""
    parts = str(props.get("chart", "")).rstrip("/").split("/")
    if len(parts) > 1 and parts[-1] == str(props.get("version", "")):
        return parts[-2]
    return parts[-1]


def _cert_manager_installed(views: Sequence[View]) -> bool:
    """The cert-manager chart (offline view) or its CRDs (what the engine sees)."""
    return any(
        (v.type == CHART and chart_name(v.props) == "cert-manager")
        or (v.kind == "CustomResourceDefinition" and v.object_name == CERT_MANAGER_CRD)
        for v in views
    )


def _cert_manager(views: Sequence[View], cfg: Config) -> list[Violation]:
    if cfg["external"] or _cert_manager_installed(views):
        return []
    return [
        Violation("needs cert-manager, which this stack does not install", v)
        for v in views
        if _needs_certificates(v)
    ]


def _secrets_marked(views: Sequence[View], cfg: Config) -> list[Violation]:
    plain = re.compile(cfg["plainKeys"], re.IGNORECASE)
    found = []
    for secret in by_kind(views, "Secret"):
        if secret.secret_paths is None:
            continue
        for part in ("data", "stringData"):
            for key in secret.props.get(part) or {}:
                path = f"{part}.{key}"
                if not plain.fullmatch(key) and path not in secret.secret_paths:
                    found.append(Violation(f"{path} is not a Pulumi secret", secret))
    return found


POLICIES = [
    Policy(
        "namespace-network-policy",
        "Every namespace the platform creates has at least one NetworkPolicy.",
        "mandatory",
        stack_check=_namespaces_fenced,
    ),
    Policy(
        "cert-manager-for-webhooks",
        "cert-manager is installed when certificates or CA injection are requested.",
        "mandatory",
        stack_check=_cert_manager,
        defaults={"external": False},
        schema={"external": {"type": "boolean", "description": "cluster already runs it"}},
    ),
    Policy(
        "secrets-marked",
        "Every Secret value is a Pulumi secret (offline only: the engine unwraps secrets).",
        "mandatory",
        stack_check=_secrets_marked,
        defaults={"plainKeys": IDENTIFIER_KEYS},
        schema={
            "plainKeys": {"type": "string", "description": "regex of keys holding identifiers"}
        },
        needs_secret_marks=True,
    ),
]
