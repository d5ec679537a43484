"""pipeline-run's tenant enforces `restricted` wherever the pinned KFP's run pods can pass it."""

from __future__ import annotations

import pytest

from mlplatform import kfp_pod_security, releases
from mlplatform.scenarios.catalog import pipeline_run
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target

ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.mark.parametrize("release", releases.available())
def test_the_scenario_namespace_is_restricted_where_kfp_allows_it(release):
    rel = releases.load(release)
    t = Target(rel, Images.for_release(rel), "t3st01")
    (ns,) = [o for o in pipeline_run.build(t).manifests(rel) if o["kind"] == "Namespace"]
    level = ns["metadata"]["labels"][ENFORCE]
    blocker = kfp_pod_security.restricted(rel.component("kfp").version).blocker
    assert level == ("restricted" if blocker is None else "baseline"), release
    assert (level == "restricted") is (release == "26.03")  # KFP 2.16.0 only, today
