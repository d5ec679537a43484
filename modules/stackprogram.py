"""The stack programs: one platform stack per environment, one small stack per tenant.

`stacks/__main__.py` dispatches on the stack name: `<env>` runs the platform (no tenant),
`<env>.tenant-<name>` runs that one tenant, read by name from the same `mlplatform:tenants`
config and wired to the platform through a StackReference (tenancy.tenant.build_tenant_stack).
"""

from __future__ import annotations

import gc
from typing import Any

import pulumi

from mlplatform.config import ConfigError, parse_platform
from mlplatform.platform import build, load_config, tenant_outputs
from mlplatform.stackconfig import PROJECT, project_config
from mlplatform.tenancy.spec import parse_tenants
from mlplatform.tenancy.stacks import parse_stack_name
from mlplatform.tenancy.tenant import build_tenant_stack


def platform_program(raw: dict[str, Any], with_tenants: bool = False) -> None:
    """The platform stack; `with_tenants` also registers every tenant in it (the whole
    environment as one graph: what mocks-based checks and single-stack state look like)."""
    stack = load_config(raw)
    for warning in stack.warnings:  # allowed, but probably not what was meant
        pulumi.log.warn(warning)
    components = build(stack.platform, stack.tenants if with_tenants else ())
    pulumi.export("release", stack.platform.release)
    pulumi.export("components", sorted(components))
    pulumi.export("tenants", [t.name for t in stack.tenants])
    for key, value in tenant_outputs(stack.platform, components).items():
        if key not in ("release", "components"):
            pulumi.export(key, value)
    # Generated Dex passwords (email -> password): `pulumi stack output --show-secrets`.
    if "identity" in components:
        pulumi.export("staticUserPasswords", components["identity"].static_passwords)


def tenant_program(raw: dict[str, Any], env: str, name: str) -> None:
    """One tenant's stack. Only its own entry is validated here (the platform stack and
    `mlplatform tenant` validate the whole list), so its cost does not grow with the tenants."""
    config = parse_platform(raw.get("platform"))
    entries = [e for e in raw.get("tenants") or [] if isinstance(e, dict) and e.get("name") == name]
    if not entries:
        raise ConfigError([f"tenants: no tenant named {name!r} (stack {env}.tenant-{name})"])
    (spec,) = parse_tenants(entries[:1], config)
    tenant = build_tenant_stack(config, spec, PROJECT, env)
    for key, value in tenant.outputs.items():
        pulumi.export(key, value)


def main() -> None:
    # A short-lived batch process whose heap of live resources, outputs and futures only grows:
    # with default thresholds the cyclic GC rescans it again and again (1,000 tenants: ~2x time).
    gc.set_threshold(200_000, 50, 1_000)
    env, tenant = parse_stack_name(pulumi.get_stack())
    if tenant is None:
        platform_program(project_config())
    else:
        tenant_program(project_config(), env, tenant)
