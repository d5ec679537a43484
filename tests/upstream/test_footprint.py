"""Footprint: every platform container is bounded, and dev fits a laptop-sized kind cluster.

Rendered from the cache: our own objects and every kustomize build always; charts when the
cache holds their templates (a pulled cache). Where a chart cannot be rendered here, the
chart-values tests (test_charts, the components' own tests) carry its share.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlplatform import inventory, render
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, upstream_graph

pytestmark = needs_cache
DEV_BUDGET = {"cpu": Decimal(4), "memory": Decimal(8 * 2**30)}  # requests, everything enabled


def rendered(env: str, release: str) -> render.Rendered:
    return render.render(upstream_graph(env, release), CACHE)


@pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
def test_every_container_has_requests_and_limits(env, release):
    inventories = inventory.inventory(rendered(env, release).objects)
    unbounded = [f"{c}: {u}" for c, inv in inventories.items() for u in inv.unbounded]
    assert unbounded == [], "\n".join(unbounded)
    # A resource patch naming a container upstream lacks would add an image-less container.
    assert [i for inv in inventories.values() for i in inv.imageless] == []


DEV_RELEASES = sorted({r for env, r in CASES if env == "dev"})


def over_budget(out: render.Rendered) -> dict[str, Decimal]:
    requests = inventory.total(inventory.inventory(out.objects)).requests
    return {r: v for r, v in requests.items() if v > DEV_BUDGET[r]}


@pytest.mark.parametrize("release", DEV_RELEASES)
def test_dev_requests_of_what_renders_fit_the_budget(release):
    assert over_budget(rendered("dev", release)) == {}


@pytest.mark.parametrize("release", DEV_RELEASES)
def test_dev_requests_with_every_chart_fit_the_budget(release):
    out = rendered("dev", release)
    if out.missing:
        pytest.skip(f"{len(out.missing)} charts have no templates in {CACHE.root} (data only)")
    assert over_budget(out) == {}
