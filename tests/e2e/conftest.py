"""Rung 5 fixtures: the platform up on a real cluster, torn down afterwards (see gate.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlplatform.cluster import ROOT
from tests.e2e.gate import ENV, KEEP, KIND, OUT

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from mlplatform.cluster.lifecycle import Deployment


@pytest.fixture(scope="session")
def platform() -> Iterator[Deployment]:
    """The platform up on its cluster (created or reused), idempotency checked."""
    from mlplatform.cluster import lifecycle

    OUT.mkdir(parents=True, exist_ok=True)
    kubeconfig = OUT / "kubeconfig" if KIND else None
    dep = lifecycle.bring_up(
        ENV, lifecycle.load(ENV), kind=KIND, kubeconfig=kubeconfig, keep_cluster=KEEP
    )
    yield dep
    if KIND and dep.created_cluster and not KEEP:
        lifecycle.tear_down(dep, keep_cluster=False)
    else:  # MLPLATFORM_KEEP=1, a cluster that existed before the run, or a non-kind cluster
        print(f"leaving stack {ENV} up on {dep.context}")


@pytest.fixture(scope="session")
def kubeconfig(platform: Deployment) -> str:
    """Path of the kubeconfig that reaches the platform."""
    default = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
    return str(platform.kubeconfig or default)


@pytest.fixture(scope="session")
def scenario_image(platform: Deployment) -> str:
    """The scenario payload image: MLPLATFORM_SCENARIO_IMAGE, or built and loaded into kind."""
    from mlplatform.scenarios.images import scenario_image as default_image

    given = os.environ.get("MLPLATFORM_SCENARIO_IMAGE")
    if given:
        return given
    if platform.cluster is None:
        pytest.fail("set MLPLATFORM_SCENARIO_IMAGE to an image this cluster can pull")
    image = default_image()
    platform.cluster.build_and_load(image, ROOT / "scenarios" / "Dockerfile")
    return image


@pytest.fixture(scope="session")
def static_users(platform: Deployment) -> dict[str, str]:
    """email -> generated password of each static user: the stack output that
    `mlplatform status --env E --show-passwords` prints (none with OIDC)."""
    found = platform.stack.outputs().get("staticUserPasswords") if platform.stack else None
    return {str(k): str(v) for k, v in dict(found.value or {}).items()} if found else {}


@pytest.fixture(scope="session")
def gateway_url(platform: Deployment) -> str:
    """The platform gateway from this machine: on kind, the host port its NodePort is
    published on (modules/cluster/kind.py); elsewhere the domain itself."""
    from mlplatform.cluster import toolchain

    domain = platform.config.ingress.domain
    port = f":{toolchain().kind.host_ports.https}" if platform.cluster else ""
    return f"https://{domain}{port}"


@pytest.fixture(scope="session")
def api(platform: Deployment, kubeconfig: str) -> ApiClient:
    """A kubernetes ApiClient on the platform's context."""
    from kubernetes import config as kube_config

    return kube_config.new_client_from_config(config_file=kubeconfig, context=platform.context)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Export the kind logs once, on the first failing e2e test."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and not item.config.stash.get(_LOGS, False):
        item.config.stash[_LOGS] = True
        dep = item.funcargs.get("platform")
        if dep is not None:
            from mlplatform.cluster.lifecycle import collect_logs

            collect_logs(dep)


_LOGS = pytest.StashKey[bool]()
