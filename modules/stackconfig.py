"""Where stack config comes from: the Pulumi runtime (in a program) or the stack files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

PROJECT = "mlplatform"
# The `mlplatform:*` keys the program reads; secret keys are named by the config itself
# (platform.identity.oidc.clientSecretKey and alert receivers' keys, see secret_keys).
KNOWN_KEYS = ("platform", "tenants")
DEFAULT_OIDC_SECRET_KEY = "oidcClientSecret"
# Alert receiver kind -> its field naming a secret config key (mlplatform.config.alerting).
RECEIVER_SECRET_FIELDS = {
    "email": "authPasswordKey",
    "slack": "webhookUrlKey",
    "webhook": "bearerTokenKey",
}
ROOT = Path(__file__).resolve().parents[1]
STACKS_DIR = ROOT / "stacks"


def stack_file(env: str) -> Path:
    return STACKS_DIR / f"Pulumi.{env}.yaml"


def environments() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in STACKS_DIR.glob("Pulumi.*.yaml")
    )


def secret_keys(values: dict[str, Any]) -> set[str]:
    """The secret `mlplatform:*` keys `values` make the program read (the OIDC client secret,
    the platform's and the tenants' alert receiver credentials)."""
    platform = values.get("platform")
    identity = platform.get("identity") if isinstance(platform, dict) else None
    oidc = identity.get("oidc") if isinstance(identity, dict) else None
    keys = set(receiver_secret_keys(values))
    if isinstance(oidc, dict):
        key = oidc.get("clientSecretKey", DEFAULT_OIDC_SECRET_KEY)
        if isinstance(key, str):
            keys.add(key)
    return keys


def receiver_secret_keys(values: dict[str, Any]) -> dict[str, str]:
    """Secret config key -> the receiver kind reading it, over `platform.alerting` and every
    tenant's `alerting` (raw config: this runs before validation, e.g. for `secret set`)."""
    tenants = values.get("tenants")
    keys = {}
    for owner in [values.get("platform"), *(tenants if isinstance(tenants, list) else [])]:
        alerting = owner.get("alerting") if isinstance(owner, dict) else None
        receivers = alerting.get("receivers") if isinstance(alerting, dict) else None
        for receiver in receivers if isinstance(receivers, list) else []:
            for kind, field in RECEIVER_SECRET_FIELDS.items():
                target = receiver.get(kind) if isinstance(receiver, dict) else None
                key = target.get(field) if isinstance(target, dict) else None
                if isinstance(key, str):
                    keys[key] = kind
    return keys


def unknown_key_problems(values: dict[str, Any]) -> list[str]:
    """One line per `mlplatform:<key>` the program would silently ignore (a typo such as
    `mlplatform:platfrom`, or a key from elsewhere such as `mlplatform:tenant`)."""
    known = sorted({*KNOWN_KEYS, *secret_keys(values)})
    return [
        f"{PROJECT}:{key}: unknown stack config key; known keys: "
        f"{', '.join(f'{PROJECT}:{k}' for k in known)}"
        for key in sorted(set(values) - set(known))
    ]


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a repeated mapping key instead of keeping the last one."""


def _no_repeats(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                "keep one: repeated keys are contradictory, not last-one-wins",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_repeats)


def load_yaml(text: str) -> Any:
    """YAML with repeated mapping keys refused (yaml.safe_load keeps the last silently)."""
    return yaml.load(text, Loader=_StrictLoader)


def read_stack_file(env: str) -> tuple[dict[str, Any], set[str]]:
    """(`mlplatform:` keys without prefix -> values, names of `secure:` keys) of one stack.

    Raises ValueError naming the problem for a repeated key or an unknown `mlplatform:` key.
    """
    path = stack_file(env)
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path.name}; environments: {environments()}")
    try:
        doc = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path.name}: {err}") from None
    values: dict[str, Any] = {}
    secure: set[str] = set()
    for key, value in (doc.get("config") or {}).items():
        project, _, name = key.partition(":")
        if project != PROJECT:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(name)
        values[name] = value
    problems = unknown_key_problems(values)
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
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


def round_trip_yaml() -> Any:
    """ruamel's round-trip YAML as our stack files are laid out (comments and order kept)."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def write_stack_file(path: Path, text: str) -> None:
    """Replace a stack file atomically (synced, its mode kept): readers see old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
