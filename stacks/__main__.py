"""Pulumi entrypoint: read `mlplatform:*` stack config, validate it, compose the platform."""

import pulumi

from modules.platform import build, load_config
from modules.stackconfig import project_config

stack = load_config(project_config())
components = build(stack.platform, stack.tenants)
pulumi.export("release", stack.platform.release)
pulumi.export("components", sorted(components))
pulumi.export("tenants", [t.name for t in stack.tenants])
# Generated Dex passwords (email -> password): `pulumi stack output --show-secrets`.
if "identity" in components:
    pulumi.export("staticUserPasswords", components["identity"].static_passwords)
