"""Where stack config comes from: the Pulumi runtime (in a program) or the stack files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT = "mlplatform"
ROOT = Path(__file__).resolve().parents[1]
STACKS_DIR = ROOT / "stacks"


def stack_file(env: str) -> Path:
    return STACKS_DIR / f"Pulumi.{env}.yaml"


def environments() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in STACKS_DIR.glob("Pulumi.*.yaml")
    )


def read_stack_file(env: str) -> tuple[dict[str, Any], set[str]]:
    """(`mlplatform:` keys without prefix -> values, names of `secure:` keys) of one stack."""
    path = stack_file(env)
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path.name}; environments: {environments()}")
    doc = yaml.safe_load(path.read_text()) or {}
    values: dict[str, Any] = {}
    secure: set[str] = set()
    for key, value in (doc.get("config") or {}).items():
        project, _, name = key.partition(":")
        if project != PROJECT:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(name)
        values[name] = value
    return values, secure


def project_config() -> dict[str, Any]:
    """Every `mlplatform:*` config value of the running Pulumi program, JSON-decoded."""
    from pulumi.runtime.config import CONFIG  # the runtime's own view of stack config

    values: dict[str, Any] = {}
    for key, raw in CONFIG.get().items():
        project, _, name = key.partition(":")
        if project != PROJECT:
            continue
        try:
            values[name] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            values[name] = raw
    return values
