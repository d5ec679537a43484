"""Rung 3b: the program checked against the real upstream content at the pinned versions.

The cache is `../shared/upstream` beside the project (or $MLPLATFORM_UPSTREAM_CACHE); every
test here skips with one line when it is absent. Stacks run under mocks with
`platform.upstreamCache` pointing at it, so charts and kustomize bases resolve locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlplatform import releases
from mlplatform.graph import Graph
from mlplatform.mockrun import stack_inputs
from mlplatform.stackconfig import ROOT, environments, read_stack_file
from mlplatform.upstream import Cache, default_dir
from tests.conftest import evaluate

UPSTREAM = Path(os.environ.get("MLPLATFORM_UPSTREAM_CACHE") or ROOT.parent / "shared" / "upstream")
CACHE = Cache(found.resolve()) if (found := default_dir()) else None
needs_cache = pytest.mark.skipif(
    CACHE is None,
    reason=f"no upstream cache at {UPSTREAM}: run `mlplatform upstream pull --dir {UPSTREAM}` "
    "(or set MLPLATFORM_UPSTREAM_CACHE)",
)


def _pinned(env: str) -> str:
    return read_stack_file(env)[0]["platform"]["release"]


# Every environment at its own release, and dev on every other release.
CASES = [(env, _pinned(env)) for env in environments()] + [
    ("dev", r) for r in releases.available() if r != _pinned("dev")
]
CASE_IDS = [f"{env}@{release}" for env, release in CASES]


def upstream_graph(env: str, release: str) -> Graph:
    """One environment on one release under mocks, sources resolved from the cache."""
    assert CACHE is not None
    values, secrets = stack_inputs(env, release)
    values["platform"]["upstreamCache"] = str(CACHE.root)
    return evaluate(values, env, secrets)


@cache
def facts(chart: str, version: str) -> dict[str, Any]:
    assert CACHE is not None
    return json.loads((CACHE.chart(chart, version) / "facts.json").read_text())


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in an object (values, not keys)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
