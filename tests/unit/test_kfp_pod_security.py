"""A tenant running Pod Security `restricted` where the pinned KFP cannot run under it is warned.

Facts per KFP version: mlplatform.kfp_pod_security (read at the pinned tags); the upstream rung
(tests/upstream/test_kfp_pod_security.py) renders the run pods from the built Argo config.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlplatform import kfp_pod_security, releases
from mlplatform.platform import load_config
from tests.conftest import stack_config


def _pipelines_warnings(cfg: dict[str, Any]) -> list[str]:
    return [w for w in load_config(cfg).warnings if "podSecurity: " in w]


def _with_release(env: str, release: str) -> dict[str, Any]:
    cfg = stack_config(env)
    cfg["platform"]["release"] = release
    return cfg


@pytest.mark.parametrize("release", releases.available())
def test_every_pinned_kfp_version_is_verified(release):
    version = releases.load(release).component("kfp").version
    facts = kfp_pod_security.restricted(version)
    assert facts.author


def test_an_unverified_kfp_version_is_refused_naming_where_to_add_it():
    with pytest.raises(KeyError, match=r"kfp_pod_security\.BY_VERSION"):
        kfp_pod_security.restricted("9.9.9")


@pytest.mark.parametrize("release", ["1.10", "1.11"])
def test_restricted_tenants_are_warned_where_no_kfp_pod_can_run(release):
    cfg = _with_release("dev", release)
    for t in cfg["tenants"]:
        t["podSecurity"] = "restricted"
    version = releases.load(release).component("kfp").version
    (warning,) = _pipelines_warnings(cfg)  # the same warning for every tenant: one line
    everyone = ", ".join(f"tenants[{i}]" for i in range(len(cfg["tenants"])))
    assert warning.startswith(f"{everyone}: podSecurity: restricted refuses every KFP ")
    assert version in warning and "kfp-launcher" in warning
    assert warning.endswith("set podSecurity: baseline for a team that runs pipelines")
    assert "\n" not in warning


def test_baseline_tenants_and_platforms_without_pipelines_are_not_warned():
    cfg = _with_release("dev", "1.11")
    for t in cfg["tenants"]:
        t["podSecurity"] = "baseline"
    assert _pipelines_warnings(cfg) == []
    cfg = _with_release("dev", "1.11")
    cfg["platform"]["components"]["pipelines"] = {"enabled": False}
    assert _pipelines_warnings(cfg) == []


def test_kfp_2_16_needs_no_warning():
    # 26.03: every system container is restricted; the author declares runAsNonRoot.
    cfg = _with_release("staging", "26.03")
    for t in cfg["tenants"]:
        t["podSecurity"] = "restricted"
    assert _pipelines_warnings(cfg) == []
