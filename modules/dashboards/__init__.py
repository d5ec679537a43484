"""The platform's Grafana dashboards, as code (grafana-foundation-sdk), and their provisioning.

One module per dashboard (`UID`, `FOLDER`, `enabled(config)`, `build(config)`); `dashboards()`
returns those of the enabled components, `config_maps()` the ConfigMaps Grafana's dashboard
sidecar loads. The sidecar label and its value are kube-prometheus-stack's
(`grafana.sidecar.dashboards.label: grafana_dashboard`, `labelValue: "1"`, values.yaml at
70.4.2, 79.12.0 and 82.4.0); the folder annotation is ours: the grafana subchart
(8.11.3, 10.3.0, 11.2.0) passes `sidecar.dashboards.folderAnnotation` to the sidecar as
FOLDER_ANNOTATION and, with `provider.foldersFromFilesStructure`, Grafana makes each
subdirectory a folder (templates/_pod.tpl, _config.tpl).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform import manifests
from mlplatform.config import PlatformConfig
from mlplatform.dashboards import gpu, kueue, objectstore, overview, serving, tenants, training

NAMESPACE = "monitoring"
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"
MODULES = (overview, kueue, training, serving, gpu, objectstore, tenants)


@dataclass(frozen=True)
class Provisioned:
    """A dashboard and the Grafana folder it goes to."""

    folder: str
    dashboard: Dashboard

    @property
    def uid(self) -> str:
        return str(self.dashboard.uid)


def dashboards(config: PlatformConfig) -> list[Provisioned]:
    """Every dashboard of the enabled components, in module order."""
    return [Provisioned(m.FOLDER, m.build(config)) for m in MODULES if m.enabled(config)]


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    return json.loads(json.dumps(dashboard, cls=JSONEncoder))


def config_map(board: Provisioned) -> manifests.Obj:
    """The ConfigMap the sidecar picks up: file `<uid>.json` in folder `board.folder`."""
    meta = manifests.meta(f"dashboard-{board.uid}", NAMESPACE, **SIDECAR_LABEL)
    meta["annotations"] = {FOLDER_ANNOTATION: board.folder}
    body = json.dumps(to_json(board.dashboard), sort_keys=True, separators=(",", ":"))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {f"{board.uid}.json": body},
    }


def config_maps(config: PlatformConfig) -> list[manifests.Obj]:
    return [config_map(b) for b in dashboards(config)]


def sidecar_values() -> dict[str, Any]:
    """kube-prometheus-stack `grafana.sidecar.dashboards` values: folders from the annotation;
    ConfigMaps in `monitoring` only (kube-prometheus-stack's default is every namespace, and
    Secrets too), so a tenant's ConfigMap cannot add a dashboard and Grafana's ServiceAccount
    needs no cluster-wide read of Secrets (`grafana.rbac.namespaced`)."""
    return {
        "folderAnnotation": FOLDER_ANNOTATION,
        "provider": {"foldersFromFilesStructure": True},
        "searchNamespace": NAMESPACE,
        "resource": "configmap",
    }
