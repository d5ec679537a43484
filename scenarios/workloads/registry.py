"""Register a model version in a Kubeflow Model Registry, and resolve one back to its URI.

The REST API at every pinned server (kubeflow/model-registry v0.2.19, v0.3.4, v0.3.7:
api/openapi/model-registry.yaml, base path /api/model_registry/v1alpha3): create
`registered_models`, then `registered_models/{id}/versions`, then
`model_versions/{id}/artifacts` (a `model-artifact` carrying the URI and format); find with
`registered_model?name=`, `model_version?name=&parentResourceId=`. Standard library only: it
also runs inside a KFP component.

    python -m mlplatform.scenarios.workloads.registry resolve --url URL --name N --version V
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
import urllib.request
from typing import Any

BASE = "/api/model_registry/v1alpha3"


def _call(url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url.rstrip("/") + BASE + path,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.load(response))


def register(
    url: str, name: str, version: str, uri: str, model_format: str, format_version: str = "1"
) -> dict[str, str]:
    """Create the model (or reuse it), one version and its artifact; returns their ids."""
    try:
        model = find_model(url, name)
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
        model = _call(url, "/registered_models", {"name": name})
    mv = _call(
        url,
        f"/registered_models/{model['id']}/versions",
        {"name": version, "registeredModelId": model["id"]},
    )
    artifact = _call(
        url,
        f"/model_versions/{mv['id']}/artifacts",
        {
            "artifactType": "model-artifact",
            "name": f"{name}-{version}",
            "uri": uri,
            "modelFormatName": model_format,
            "modelFormatVersion": format_version,
        },
    )
    return {"model_id": model["id"], "version_id": mv["id"], "artifact_id": artifact["id"]}


def find_model(url: str, name: str) -> dict[str, Any]:
    return _call(url, "/registered_model?" + urllib.parse.urlencode({"name": name}))


def resolve(url: str, name: str, version: str) -> str:
    """The URI of the model artifact of `name` at `version`."""
    model = find_model(url, name)
    query = urllib.parse.urlencode({"name": version, "parentResourceId": model["id"]})
    mv = _call(url, f"/model_version?{query}")
    items = _call(url, f"/model_versions/{mv['id']}/artifacts").get("items", [])
    uris = [a["uri"] for a in items if a.get("artifactType") == "model-artifact"]
    if not uris:
        raise LookupError(f"{name} {version} has no model artifact")
    return str(uris[0])


def main(argv: list[str] | None = None) -> None:
    from mlplatform.scenarios.workloads.distenv import format_metrics

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("resolve", help="print the version's model URI as a metrics line")
    r.add_argument("--url", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--version", required=True)
    a = p.parse_args(argv)
    print(format_metrics({"uri": resolve(a.url, a.name, a.version)}), flush=True)


if __name__ == "__main__":
    main()
