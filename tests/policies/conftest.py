"""Policy tests: hand-built views, the violation fixture set, and an isolated waiver file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.policies import waivers
from mlplatform.policies.core import View
from mlplatform.render import type_token

FIXTURES = Path(__file__).parents[1] / "fixtures" / "policy-violations"


@pytest.fixture(autouse=True)
def waiver_file(tmp_path, monkeypatch) -> Path:
    """Each test starts with no waivers (write to the returned path to add some)."""
    path = tmp_path / "waivers.yaml"
    monkeypatch.setattr(waivers, "PATH", path)
    return path


def view(
    obj: dict[str, Any], ours: bool = True, secret_paths: frozenset[str] = frozenset()
) -> View:
    """A Kubernetes object as the offline runner presents it."""
    meta = obj.get("metadata", {})
    name = f"{obj['kind']}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    return View(type_token(obj), name, obj, ours=ours, secret_paths=secret_paths)


def load_set(rule: str | None = None) -> list[View]:
    """base.yaml, with `<rule>.yaml` applied: same-ref documents replace, `remove:` drops."""
    objs = {_ref(o): o for o in yaml.safe_load_all((FIXTURES / "base.yaml").read_text())}
    if rule:
        for doc in yaml.safe_load_all((FIXTURES / f"{rule}.yaml").read_text()):
            if "remove" in doc:
                del objs[doc["remove"]]
            else:
                objs[_ref(doc)] = doc
    return [view(o) for o in objs.values()]


def _ref(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']}/{ns}{meta['name']}"
