"""Security: privileges, host access, tenant hardening, secrets in env, exposed Services."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from mlplatform.components import gpu, gpu_telemetry, istio_cni, logging
from mlplatform.policies.core import Config, Policy, View, Violation, list_of_strings
from mlplatform.policies.pods import Container, containers, pod_templates
from mlplatform.policies.tenancy import ENFORCE, tenant_workloads

ALLOWED = "resource refs (Kind/namespace/name globs) exempt from this rule"
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
NODE_EXPORTER = "DaemonSet/monitoring/*node-exporter*"
# The device plugin mounts the kubelet's device-plugin socket directory and the driver root.
# It also adds SYS_ADMIN whenever its config comes from a ConfigMap, as ours does (`config.map`):
# NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/templates/_helpers.tpl
# `requiresCapSysAdmin` (a ConfigMap may switch MIG strategy or volume-mount device lists at
# run time), at v0.17.1, v0.18.0 and v0.20.0 alike.
GPU_DEVICE_PLUGIN = f"DaemonSet/{gpu.NAMESPACE}/{gpu.RELEASE}"
# The log collector reads every container's log file (and the API server's audit log) under the
# node's /var/log, read-only (modules/components/logging.py); alone in its privileged namespace.
LOG_COLLECTOR = f"DaemonSet/{logging.COLLECTOR_NAMESPACE}/{logging.ALLOY}"
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
# The DCGM exporter reads the kubelet's pod-resources socket (hostPath, read-only) to attribute
# each GPU to the pod it is allocated to, and adds SYS_ADMIN for DCGM's profiling fields
# (NVIDIA/dcgm-exporter deployment/templates/daemonset.yaml and values.yaml `securityContext`,
# charts 4.2.0-4.8.1); it runs only on real NVIDIA nodes (modules/components/gpu_telemetry.py).
GPU_DCGM_EXPORTER = f"DaemonSet/{gpu_telemetry.NAMESPACE}/{gpu_telemetry.RELEASE}"
# The Istio CNI agent writes its plugin and chained config into the node's CNI directories and
# enters pods' network namespaces (/proc, /var/run/netns) to set up and repair their redirection:
# hostPath mounts and NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_ADMIN, DAC_OVERRIDE, not privileged
# (istio/istio manifests/charts/istio-cni/templates/daemonset.yaml, 1.28.0 and 1.29.1). It is
# what lets every injected pod run without them (modules/components/istio_cni.py).
ISTIO_CNI_AGENT = f"DaemonSet/{istio_cni.NAMESPACE}/{istio_cni.DAEMONSET}"
# Pod Security Standards (kubernetes/website content/en/docs/concepts/security/
# pod-security-standards.md, "Capabilities"): baseline forbids adding anything beyond this
# list; restricted requires drop ALL and allows adding back only NET_BIND_SERVICE.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
INGRESS_GATEWAY = "Service/istio-system/istio-ingressgateway"
# Secret-looking names, matched as whole parts of the name in UPPER_SNAKE form (`apiKey`,
# `api-key` and `API_KEY` alike; `TOKENIZER_PATH` and `SECRETARY` are not secrets).
SECRET_ENV = (
    r"(?:^|_)(?:PASSWORDS?|PASSWDS?|PASSPHRASES?|SECRETS?|TOKENS?|API_?KEYS?|ACCESS_?KEYS?"
    r"|PRIVATE_?KEYS?|(?:SIGNING|ENCRYPTION|MASTER|SESSION|HMAC|AUTH)_KEYS?|CREDENTIALS?|CREDS)"
    r"(?:_|$)"
)
# A name that says its value refers to a secret rather than holding it: a Secret's (or key's)
# name, a file or directory it is mounted at, a URL (e.g. KServe's controller: SECRET_NAME,
# the webhook certificate Secret's name). The value must then have that shape.
REFERENCE = re.compile(r"_(?P<kind>NAME|FILE|PATH|DIR|URL|URI)$", re.IGNORECASE)
# Values that are secrets whatever the name: a PEM private key, a URL carrying a password
# (unless the password is a `$(VAR)` reference, which the kubelet expands from another env).
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
ENV_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}")
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


def added_capabilities(c: Container) -> list[str]:
    """`capabilities.add`, as the runtime reads it (upper case, `CAP_` prefix optional)."""
    added = (c.security.get("capabilities") or {}).get("add") or []
    return [str(cap).upper().removeprefix("CAP_") for cap in added]


def _namespace_levels(views: Sequence[View]) -> dict[str, str]:
    return {
        v.object_name: str(v.labels[ENFORCE])
        for v in views
        if v.kind == "Namespace" and ENFORCE in v.labels
    }


def _capabilities(views: Sequence[View], cfg: Config) -> list[Violation]:
    """Only what Pod Security allows to be added back: NET_BIND_SERVICE under restricted,
    the baseline list elsewhere; dropping ALL first changes nothing (add wins)."""
    levels = _namespace_levels(views)
    found = []
    for view in views:
        if not view.kind or view.matches(cfg["allowed"]):
            continue
        restricted = levels.get(view.namespace or "") == "restricted"
        allowed = RESTRICTED_CAPABILITIES if restricted else BASELINE_CAPABILITIES
        where = "restricted allows only NET_BIND_SERVICE" if restricted else "baseline forbids it"
        for c in containers(view, security=True):
            for cap in added_capabilities(c):
                if cap not in allowed:
                    found.append(Violation(f"{c.label} adds capability {cap} ({where})", view))
    return found


def env_name_parts(name: str) -> str:
    """`apiKey`, `api-key`, `api.key` -> `API_KEY`: name parts joined by `_`, upper case."""
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    split = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", split)
    return re.sub(r"[^A-Za-z0-9]+", "_", split).strip("_").upper()


def _looks_generated(value: str) -> bool:
    """Long and mixed upper, lower and digits: a token, not a Secret name (DNS-1123 names
    are lower case) nor a human-chosen key name."""
    return (
        len(value) >= 16
        and any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )


def is_reference(name: str, value: str) -> bool:
    """`name` says its value is a name, path or URL, and `value` is one (a URL carries no
    credentials): it points at a secret, it is not one."""
    match = REFERENCE.search(env_name_parts(name))
    if match is None:
        return False
    kind = match["kind"].upper()
    if kind == "NAME":
        return _OBJECT_NAME.fullmatch(value) is not None and not _looks_generated(value)
    if kind in ("FILE", "PATH", "DIR"):
        return value.startswith("/") and not any(ch.isspace() for ch in value)
    url = urlsplit(value)
    return bool(url.scheme and url.netloc) and url.username is None and url.password is None


def secret_value(value: str) -> str | None:
    """What makes a value a secret whatever its variable's name, if anything."""
    if PEM_PRIVATE_KEY.search(value):
        return "a private key"
    try:
        password = urlsplit(value).password if "://" in value else None
    except ValueError:
        return None
    if password and not ENV_REFERENCE.fullmatch(password):
        return "a URL with a password"
    return None


def _plain_secret(env: Mapping[str, object], pattern: re.Pattern[str]) -> str | None:
    """Why an env var holds a secret as a plain value (None when it does not)."""
    name, value = str(env.get("name", "")), env.get("value")
    if not value:
        return None
    found = secret_value(str(value))
    if found:
        return f"to {found}"
    if pattern.search(env_name_parts(name)) and not is_reference(name, str(value)):
        return "as a plain value"
    return None


def _secret_env(view: View, cfg: Config) -> list[str]:
    pattern = re.compile(cfg["namePattern"], re.IGNORECASE)
    return [
        f"{c.label} sets {env['name']} {why} (use valueFrom.secretKeyRef)"
        for c in containers(view, security=True)
        for env in c.spec.get("env") or []
        if (why := _plain_secret(env, pattern))
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
        defaults={
            "allowed": [
                GPU_DEVICE_PLUGIN,
                GPU_MPS_CONTROL_DAEMON,
                GPU_DCGM_EXPORTER,
                NODE_EXPORTER,
                LOG_COLLECTOR,
                ISTIO_CNI_AGENT,
            ]
        },
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
        "no-dangerous-capabilities",
        "Containers add no capability Pod Security forbids (restricted: NET_BIND_SERVICE "
        "only), even after dropping ALL.",
        "mandatory",
        stack_check=_capabilities,
        defaults={"allowed": [GPU_DEVICE_PLUGIN, GPU_DCGM_EXPORTER, ISTIO_CNI_AGENT]},
        schema={"allowed": list_of_strings(ALLOWED)},
    ),
    Policy(
        "no-plaintext-secret-env",
        "Secret-looking environment variables (and private keys, URLs with passwords) come from "
        "Secrets, not plain values.",
        "mandatory",
        check=_secret_env,
        defaults={"namePattern": SECRET_ENV},
        schema={
            "namePattern": {
                "type": "string",
                "description": "regex of secret-looking env names (searched in the name as "
                "UPPER_SNAKE: apiKey and api-key read API_KEY)",
            }
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
