"""Scenario tests validate a few hundred objects: read each JSON schema file once."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import kubernetes_validate.utils as kv_utils
import pytest


@pytest.fixture(scope="session", autouse=True)
def _cached_schemas() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kv_utils, "schema_contents", functools.cache(kv_utils.schema_contents))
        yield
