"""Pulumi entrypoint: read `mlplatform:*` stack config, validate it, compose the platform."""

import pulumi

from modules.platform import build, load_config
from modules.stackconfig import project_config

config = load_config(project_config())
components = build(config)
pulumi.export("release", config.release)
pulumi.export("components", sorted(components))
