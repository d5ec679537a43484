"""Pulumi entrypoint: read `mlplatform:*` stack config, validate it, compose the platform."""

import gc

import pulumi

from mlplatform.platform import build, load_config
from mlplatform.stackconfig import project_config

# A short-lived batch process whose heap of live resources, outputs and futures only grows:
# with default thresholds the cyclic GC rescans it again and again (1,000 tenants: ~2x time).
gc.set_threshold(200_000, 50, 1_000)
stack = load_config(project_config())
for warning in stack.warnings:  # allowed, but probably not what was meant
    pulumi.log.warn(warning)
components = build(stack.platform, stack.tenants)
pulumi.export("release", stack.platform.release)
pulumi.export("components", sorted(components))
pulumi.export("tenants", [t.name for t in stack.tenants])
# Generated Dex passwords (email -> password): `pulumi stack output --show-secrets`.
if "identity" in components:
    pulumi.export("staticUserPasswords", components["identity"].static_passwords)
