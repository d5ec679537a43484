"""Rung 3b: the inference Gateway and the scenario's HTTPRoute against the real Gateway API
CRD schemas of each release's pinned standard-install.yaml (the catalogue's `gateway_api`
manifest URL, resolved in the upstream cache). The shared cache does not carry release
manifests: those checks skip with one line; the full dev cache carries them."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import releases
from mlplatform.components import gateway_api
from mlplatform.scenarios.catalog import inference_traffic
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target
from tests.crd_schema import schema_problems
from tests.upstream import CACHE, needs_cache, upstream_graph

GROUP = "gateway.networking.k8s.io"
STANDARD = {"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant",
            "BackendTLSPolicy"}  # fmt: skip
RELEASES = [r for r in releases.available() if releases.load(r).has("gateway_api")]


@cache
def crds(release: str) -> dict[str, dict[str, Any]]:
    """Kind -> CRD of the release's pinned standard-install.yaml; skips when not cached."""
    assert CACHE is not None
    (url,) = releases.load(release).component("gateway_api").source.manifest.urls
    path = CACHE.manifest(url)
    if not path.is_file():
        pytest.skip(f"{url} not in the upstream cache ({path}): `mlplatform upstream pull`")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return {d["spec"]["names"]["kind"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}


def schema(release: str, kind: str, version: str) -> dict[str, Any]:
    crd = crds(release)[kind]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert served["served"], f"{kind} {version} not served"
    return served["schema"]["openAPIV3Schema"]


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_pinned_bundle_is_the_standard_channel_at_its_version(release: str) -> None:
    pinned = releases.load(release).component("gateway_api").version
    found = crds(release)
    assert set(found) == STANDARD
    for crd in found.values():
        notes = crd["metadata"]["annotations"]
        assert notes["gateway.networking.k8s.io/bundle-version"] == pinned
        assert notes["gateway.networking.k8s.io/channel"] == "standard"
        assert crd["spec"]["group"] == GROUP


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_inference_gateway_fits_the_gateway_schema(release: str) -> None:
    g = upstream_graph("dev", release)
    gw = g.object("Gateway", gateway_api.GATEWAY, gateway_api.NAMESPACE)
    version = gw["apiVersion"].rpartition("/")[2]
    assert schema_problems(gw, schema(release, "Gateway", version)) == []


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_scenario_route_fits_the_httproute_schema(release: str) -> None:
    rel = releases.load(release)
    plan = inference_traffic.build(Target(rel, Images.for_release(rel), "up0000"))
    (route,) = [o for o in plan.objects if o["kind"] == "HTTPRoute"]
    root = schema(release, "HTTPRoute", route["apiVersion"].rpartition("/")[2])
    assert schema_problems(route, root) == []
    # The schema is strict where it matters to us: a weight out of range is refused.
    bad = {**route, "spec": {**route["spec"], "rules": [
        {**route["spec"]["rules"][0], "backendRefs": [
            {**route["spec"]["rules"][0]["backendRefs"][0], "weight": 1_000_001}]}]}}  # fmt: skip
    assert any("weight" in p for p in schema_problems(bad, root))
