"""Security: privileges, host access, tenant hardening, secrets in env, exposed Services."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from mlplatform.components import gpu
from mlplatform.policies.core import Config, Policy, View, Violation, list_of_strings
from mlplatform.policies.pods import containers, pod_templates
from mlplatform.policies.tenancy import tenant_workloads

ALLOWED = "resource refs (Kind/namespace/name globs) exempt from this rule"
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
NODE_EXPORTER = "DaemonSet/monitoring/*node-exporter*"
# The device plugin mounts the kubelet's device-plugin socket directory and the driver root.
GPU_DEVICE_PLUGIN = f"DaemonSet/{gpu.NAMESPACE}/{gpu.RELEASE}"
# The NVIDIA chart renders its MPS control daemon whenever the plugin is on: no value turns it
# off at 0.17.1, 0.18.0 or 0.20.0 (NVIDIA/k8s-device-plugin deployments/helm/
# nvidia-device-plugin/templates/daemonset-mps-control-daemon.yml, gated on
# devicePlugin.enabled only). Its containers run privileged and mount the MPS root from the
# host, and its pods select `nvidia.com/mps.capable: "true"` nodes, which GPU feature discovery
# labels so only where the plugin config's sharing strategy is MPS (internal/lm/nvml.go
# newSharingLabeler, v0.18.0); the platform configures time-slicing, never MPS
# (modules/components/gpu.py), so the DaemonSet schedules no pod. Allowed by exact name; its
# hostPID is turned off through values where the chart reads the switch (0.18.0 on).
GPU_MPS_CONTROL_DAEMON = f"DaemonSet/{gpu.NAMESPACE}/{gpu.MPS_CONTROL_DAEMON}"
INGRESS_GATEWAY = "Service/istio-system/istio-ingressgateway"
SECRET_ENV = r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)"
# A name that says its value refers to a secret rather than holding it: a Secret's (or key's)
# name, a file or directory it is mounted at, a URL (e.g. KServe's controller: SECRET_NAME,
# the webhook certificate Secret's name). The value must then have that shape.
REFERENCE = re.compile(r"_(?P<kind>NAME|FILE|PATH|DIR|URL|URI)$", re.IGNORECASE)
_OBJECT_NAME = re.compile(r"[-._a-zA-Z0-9]{1,253}")  # Secret names and data keys


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


def is_reference(name: str, value: str) -> bool:
    """`name` says its value is a name, path or URL, and `value` is one (a URL carries no
    password): it points at a secret, it is not one."""
    match = REFERENCE.search(name)
    if match is None:
        return False
    kind = match["kind"].upper()
    if kind == "NAME":
        return _OBJECT_NAME.fullmatch(value) is not None
    if kind in ("FILE", "PATH", "DIR"):
        return value.startswith("/") and not any(ch.isspace() for ch in value)
    url = urlsplit(value)
    return bool(url.scheme and url.netloc) and url.password is None


def _plain_secret(env: Mapping[str, object], pattern: re.Pattern[str]) -> bool:
    name, value = str(env.get("name", "")), env.get("value")
    return bool(value) and bool(pattern.search(name)) and not is_reference(name, str(value))


def _secret_env(view: View, cfg: Config) -> list[str]:
    pattern = re.compile(cfg["namePattern"], re.IGNORECASE)
    return [
        f"{c.label} sets {env['name']} as a plain value (use valueFrom.secretKeyRef)"
        for c in containers(view, security=True)
        for env in c.spec.get("env") or []
        if _plain_secret(env, pattern)
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
        defaults={"allowed": [GPU_MPS_CONTROL_DAEMON]},
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
        defaults={"allowed": [GPU_DEVICE_PLUGIN, GPU_MPS_CONTROL_DAEMON, NODE_EXPORTER]},
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
