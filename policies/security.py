"""Security: privileges, host access, tenant hardening, secrets in env, exposed Services."""

from __future__ import annotations

import re
from collections.abc import Sequence

from policies.core import Config, Policy, View, Violation, list_of_strings
from policies.pods import containers, pod_templates
from policies.tenancy import tenant_workloads

ALLOWED = "resource refs (Kind/namespace/name globs) exempt from this rule"
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
NODE_EXPORTER = "DaemonSet/monitoring/*node-exporter*"
GPU_DEVICE_PLUGIN = "DaemonSet/*/*nvidia-device-plugin*"
INGRESS_GATEWAY = "Service/istio-system/istio-ingressgateway"
SECRET_ENV = r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)"


def _privileged(view: View, cfg: Config) -> list[str]:
    if view.matches(cfg["allowed"]):
        return []
    return [
        f"{c.label} runs privileged"
        for c in containers(view, security=True)
        if c.security.get("privileged")
    ]


def _host_namespaces(view: View, cfg: Config) -> list[str]:
    if view.matches(cfg["allowed"]):
        return []
    return [
        f"pod template{f' {t.where}' if t.where else ''} uses {field}"
        for t in pod_templates(view)
        for field in HOST_NAMESPACES
        if t.spec.get(field)
    ]


def _host_path(view: View, cfg: Config) -> list[str]:
    if view.matches(cfg["allowed"]):
        return []
    return [
        f"volume '{vol.get('name')}' mounts hostPath {vol['hostPath'].get('path')}"
        for t in pod_templates(view)
        for vol in t.spec.get("volumes") or []
        if vol.get("hostPath")
    ]


def _non_root(views: Sequence[View], cfg: Config) -> list[Violation]:
    found = []
    for view in tenant_workloads(views):
        for c in containers(view, security=True):
            pod = c.template.spec.get("securityContext") or {}
            non_root = c.security.get("runAsNonRoot", pod.get("runAsNonRoot"))
            user = c.security.get("runAsUser", pod.get("runAsUser"))
            if not non_root or user == 0:
                found.append(Violation(f"{c.label} may run as root (set runAsNonRoot: true)", view))
    return found


def _no_escalation(views: Sequence[View], cfg: Config) -> list[Violation]:
    return [
        Violation(
            f"{c.label} allows privilege escalation (set allowPrivilegeEscalation: false)", view
        )
        for view in tenant_workloads(views)
        for c in containers(view, security=True)
        if c.security.get("allowPrivilegeEscalation") is not False
    ]


def _read_only_root(view: View, cfg: Config) -> list[str]:
    if view.matches(cfg["allowed"]):
        return []
    return [
        f"{c.label} has a writable root filesystem (set readOnlyRootFilesystem: true)"
        for c in containers(view, security=True)
        if not c.security.get("readOnlyRootFilesystem")
    ]


def _drop_all(view: View, cfg: Config) -> list[str]:
    if view.matches(cfg["allowed"]):
        return []
    return [
        f"{c.label} does not drop ALL capabilities"
        for c in containers(view, security=True)
        if "ALL" not in ((c.security.get("capabilities") or {}).get("drop") or [])
    ]


def _secret_env(view: View, cfg: Config) -> list[str]:
    pattern = re.compile(cfg["namePattern"], re.IGNORECASE)
    return [
        f"{c.label} sets {env['name']} as a plain value (use valueFrom.secretKeyRef)"
        for c in containers(view, security=True)
        for env in c.spec.get("env") or []
        if env.get("value") and pattern.search(str(env.get("name", "")))
    ]


def _service_type(view: View, cfg: Config) -> list[str]:
    kind = view.spec.get("type")
    if view.kind != "Service" or kind not in ("LoadBalancer", "NodePort"):
        return []
    if view.matches(cfg["allowed"]):
        return []
    return [f"Service type {kind} is allowed only for {', '.join(cfg['allowed']) or 'nothing'}"]


POLICIES = [
    Policy(
        "no-privileged-containers",
        "Containers must not run privileged.",
        "mandatory",
        check=_privileged,
        defaults={"allowed": []},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "no-host-namespaces",
        "Pods must not share the node's network, PID or IPC namespace.",
        "mandatory",
        check=_host_namespaces,
        defaults={"allowed": [NODE_EXPORTER]},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "no-host-path",
        "Pods must not mount hostPath volumes (allow-listed platform DaemonSets excepted).",
        "mandatory",
        check=_host_path,
        defaults={"allowed": [GPU_DEVICE_PLUGIN, NODE_EXPORTER]},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "tenant-run-as-non-root",
        "Containers in tenant namespaces run as non-root.",
        "mandatory",
        stack_check=_non_root,
    ),
    Policy(
        "tenant-no-privilege-escalation",
        "Containers in tenant namespaces set allowPrivilegeEscalation: false.",
        "mandatory",
        stack_check=_no_escalation,
    ),
    Policy(
        "read-only-root-filesystem",
        "Containers should mount their root filesystem read-only where the software allows.",
        "advisory",
        check=_read_only_root,
        defaults={"allowed": []},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "drop-all-capabilities",
        "Containers should drop ALL Linux capabilities.",
        "advisory",
        check=_drop_all,
        defaults={"allowed": []},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "no-plaintext-secret-env",
        "Secret-looking environment variables come from Secrets, not plain values.",
        "mandatory",
        check=_secret_env,
        defaults={"namePattern": SECRET_ENV},
        schema={
            "namePattern": {"type": "string", "description": "regex of secret-looking env names"}
        },
    ),
    Policy(
        "restricted-service-types",
        "Services of type LoadBalancer or NodePort only where allowed (the ingress gateway).",
        "mandatory",
        check=_service_type,
        defaults={"allowed": [INGRESS_GATEWAY]},
        schema={"allowed": list_of_strings("Service refs (globs) that may be exposed")},
    ),
]
