"""Pulumi entrypoint: `<env>` is the platform stack, `<env>.tenant-<name>` one tenant's stack."""

from mlplatform.stackprogram import main

main()
