"""Prometheus's pod discovery and relabeling, enough to run a PodMonitor's relabelings offline.

Semantics as Prometheus documents them (configuration: `<relabel_config>`,
`<kubernetes_sd_config>` role `pod`): one target per declared container port (init containers
included) and one per container without ports; regexes are fully anchored; `replace` writes
the expanded replacement (default `$1`), or removes the label when it expands to nothing;
`keep`/`drop` test the `;`-joined source labels; `labeldrop` removes matching label names.
"""

from __future__ import annotations

import re
from typing import Any

Labels = dict[str, str]


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discover(pod: dict[str, Any], ip: str) -> list[Labels]:
    """The targets Prometheus's `pod` role finds for `pod` running at `ip`."""
    md, spec = pod["metadata"], pod["spec"]
    common: Labels = {
        "__meta_kubernetes_namespace": md["namespace"],
        "__meta_kubernetes_pod_name": md["name"],
        "__meta_kubernetes_pod_ip": ip,
    }
    for kind in ("label", "annotation"):
        for k, v in (md.get(f"{kind}s") or {}).items():
            common[f"__meta_kubernetes_pod_{kind}_{_sanitize(k)}"] = v
            common[f"__meta_kubernetes_pod_{kind}present_{_sanitize(k)}"] = "true"
    out = []
    for init, containers in ((False, spec["containers"]), (True, spec.get("initContainers", []))):
        for c in containers:
            base = {
                **common,
                "__meta_kubernetes_pod_container_name": c["name"],
                "__meta_kubernetes_pod_container_init": str(init).lower(),
            }
            ports = c.get("ports") or []
            address = ip if ":" not in ip else f"[{ip}]"
            if not ports:
                out.append({**base, "__address__": address})
            for p in ports:
                out.append(
                    {
                        **base,
                        "__address__": f"{address}:{p['containerPort']}",
                        "__meta_kubernetes_pod_container_port_number": str(p["containerPort"]),
                        "__meta_kubernetes_pod_container_port_name": p.get("name", ""),
                    }
                )
    return out


def _expand(template: str, match: re.Match[str]) -> str:
    def group(m: re.Match[str]) -> str:
        ref = m.group(1) or m.group(2)
        index = int(ref)
        return (match.group(index) or "") if index <= (match.re.groups or 0) else ""

    return re.sub(r"\$\{(\d+)\}|\$(\d+)", group, template)


def relabel(labels: Labels, configs: list[dict[str, Any]]) -> Labels | None:
    """`labels` after `configs`, or None when a rule drops the target."""
    out = dict(labels)
    for cfg in configs:
        action = cfg.get("action", "replace").lower()
        regex = re.compile(cfg.get("regex", "(.*)"))
        value = cfg.get("separator", ";").join(out.get(s, "") for s in cfg.get("sourceLabels", []))
        match = regex.fullmatch(value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            result = _expand(cfg.get("replacement", "$1"), match)
            target = cfg["targetLabel"]
            if result:
                out[target] = result
            else:
                out.pop(target, None)
        if action == "labeldrop":
            out = {k: v for k, v in out.items() if not regex.fullmatch(k)}
        if action not in {"keep", "drop", "replace", "labeldrop"}:
            raise ValueError(f"relabel action {action!r} is not modelled")
    return out


def scraped(pod: dict[str, Any], ip: str, configs: list[dict[str, Any]]) -> set[str]:
    """The distinct addresses Prometheus scrapes for `pod` (identical targets merge)."""
    kept = (relabel(t, configs) for t in discover(pod, ip))
    return {t["__address__"] for t in kept if t is not None}
