"""Rung 5: the upgrade rehearsal end to end on a fresh kind cluster (`upgrade rehearse`).

Opt in with MLPLATFORM_E2E=1 and MLPLATFORM_E2E_REHEARSE=FROM:TO[:KUBERNETES] (e.g.
`1.11:26.03:1.34`); it needs a kind stack (MLPLATFORM_E2E_ENV, default dev) whose kind cluster
does not exist yet, and is independent of the session's `platform` fixture (run it alone:
`pytest tests/e2e/test_rehearsal.py`). The cluster is deleted afterwards unless MLPLATFORM_KEEP=1.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.gate import ENV, KEEP, KIND, MISSING, OUT, REASON

pytestmark = pytest.mark.e2e
if MISSING:
    pytest.skip(REASON, allow_module_level=True)
SPEC = os.environ.get("MLPLATFORM_E2E_REHEARSE", "")
if not SPEC:
    pytest.skip("set MLPLATFORM_E2E_REHEARSE=FROM:TO[:KUBERNETES] to rehearse an upgrade",
                allow_module_level=True)  # fmt: skip
if not KIND:
    pytest.skip(f"stack {ENV} is not on kind: rehearsals run on kind", allow_module_level=True)


def test_upgrade_rehearsal():
    from mlplatform import rehearsal
    from mlplatform.cluster import lifecycle
    from mlplatform.cluster.kind import KindCluster, cluster_name
    from mlplatform.cluster.stack import prepare

    from_release, to_release, *k8s = SPEC.split(":")
    config = lifecycle.load(ENV)
    plan = rehearsal.plan(ENV, config, from_release, to_release, k8s[0] if k8s else None)
    kind = KindCluster(cluster_name(config.cluster.context))
    assert not kind.exists(), f"kind cluster {kind.name} exists: a rehearsal starts fresh"
    out = OUT / "rehearsal"
    actions = rehearsal.live_actions(ENV, config, plan.kubernetes, None, KEEP)
    try:
        outcome = rehearsal.execute(plan, actions, out, load_seconds=3600, keep_on_failure=KEEP)
    finally:
        if not KEEP and kind.exists():
            dep = lifecycle.Deployment(ENV, config, None, prepare(ENV), cluster=kind)
            lifecycle.tear_down(dep, keep_cluster=False)
    failed = [f"{s.name}: {s.detail}" for s in outcome.steps if s.status != "passed"]
    assert outcome.passed, f"rehearsal failed ({out}/rehearsal.json): {failed}"
    assert outcome.downtime_s is not None
