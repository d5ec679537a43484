"""Pod Security Standards as the admission controller enforces them, for pod templates.

The checks of the baseline and restricted levels (kubernetes.io/docs/concepts/security/
pod-security-standards, the `latest` version): what a namespace labelled
`pod-security.kubernetes.io/enforce: <level>` refuses.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD"}
    | {"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)
SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies"}
    | {"net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range"}
    | {"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time"}
    | {"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim"}
    | {"projected", "secret"}
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def problems(template: Obj, level: str) -> list[str]:
    """What keeps a pod template (`{metadata, spec}`) out of a namespace enforcing `level`."""
    if level == "privileged":
        return []
    spec = template["spec"]
    pod = spec.get("securityContext") or {}
    out = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    out += [f"volume {v['name']}: hostPath" for v in spec.get("volumes", []) if "hostPath" in v]
    out += [f"sysctl {s['name']}" for s in pod.get("sysctls", []) if s["name"] not in SAFE_SYSCTLS]
    for name, value in ((template.get("metadata") or {}).get("annotations") or {}).items():
        if name.startswith(APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            out.append(f"{name}: {value}")
    containers = [
        *spec.get("initContainers", []),
        *spec["containers"],
        *spec.get("ephemeralContainers", []),
    ]
    for c in containers:
        out += [f"container {c['name']}: {p}" for p in _baseline(c, pod)]
        if level == "restricted":
            out += [f"container {c['name']}: {p}" for p in _restricted(c, pod)]
    if level == "restricted":
        for v in spec.get("volumes", []):
            if set(v) - {"name"} - RESTRICTED_VOLUMES:
                out.append(f"volume {v['name']}: {sorted(set(v) - {'name'})}")
    return out


def _baseline(container: Obj, pod: Obj) -> list[str]:
    sc = container.get("securityContext") or {}
    added = set((sc.get("capabilities") or {}).get("add", []))
    out = []
    if sc.get("privileged"):
        out.append("privileged")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("hostProcess")
    if added - BASELINE_CAPABILITIES:
        out.append(f"adds capabilities {sorted(added - BASELINE_CAPABILITIES)}")
    if any(p.get("hostPort") for p in container.get("ports", [])):
        out.append("hostPort")
    if sc.get("procMount", "Default") != "Default":
        out.append(f"procMount {sc['procMount']}")
    for context in (sc, pod):
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append("seccomp profile Unconfined")
        if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
            out.append("AppArmor profile Unconfined")
        se = context.get("seLinuxOptions") or {}
        if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
            out.append(f"seLinuxOptions {se}")
    return out


def _restricted(container: Obj, pod: Obj) -> list[str]:
    sc = container.get("securityContext") or {}

    def effective(field: str) -> Any:  # a container's setting overrides the pod's
        return sc[field] if field in sc else pod.get(field)

    caps = sc.get("capabilities") or {}
    out = []
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("allowPrivilegeEscalation is not false")
    if effective("runAsNonRoot") is not True:
        out.append("runAsNonRoot is not true")
    if effective("runAsUser") == 0:
        out.append("runAsUser 0")
    if (effective("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        out.append("no RuntimeDefault or Localhost seccomp profile")
    if "ALL" not in caps.get("drop", []):
        out.append("capabilities do not drop ALL")
    if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
        out.append(f"adds capabilities {caps['add']} (restricted: NET_BIND_SERVICE only)")
    return out
