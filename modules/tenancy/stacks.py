"""One Pulumi stack per tenant: names, the platform reference, and the single-stack migration.

A tenant's stack is `<env>.tenant-<name>`, in the platform's project and backend (Pulumi stack
names may hold dots). Light on imports: the CLI and the workspace code use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TENANT_STACK_MARK = ".tenant-"
TENANT_TYPE = "mlplatform:tenancy:Tenant"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
# What the platform stack exports for its tenant stacks (mlplatform.platform.tenant_outputs).
PLATFORM_OUTPUTS = ("kubeconfig", "context", "release", "components", "tenantsReady")


def tenant_stack_name(env: str, tenant: str) -> str:
    return f"{env}{TENANT_STACK_MARK}{tenant}"


def parse_stack_name(stack: str) -> tuple[str, str | None]:
    """(`env`, tenant name) of a tenant stack; (`stack`, None) of a platform stack."""
    env, mark, tenant = stack.partition(TENANT_STACK_MARK)
    return (env, tenant) if mark and env and tenant else (stack, None)


# The DIY (file) backend's only organization (what pulumi.get_organization() returns there).
DIY_ORGANIZATION = "organization"


def platform_reference(project: str, env: str, organization: str = DIY_ORGANIZATION) -> str:
    """The platform stack as a StackReference names it: `<organization>/<project>/<stack>`
    (pulumi/pulumi tests/integration/stack_reference: getOrganization()/getProject()/getStack())."""
    return f"{organization}/{project}/{env}"


@dataclass(frozen=True)
class Move:
    """One `pulumi state move`: a tenant component (its children follow) to its own stack."""

    tenant: str
    urn: str
    source: str
    dest: str

    def command(self) -> list[str]:
        return ["pulumi", "state", "move", "--source", self.source, "--dest", self.dest,
                "--yes", self.urn]  # fmt: skip


def migration_plan(env: str, urns: Iterable[str]) -> list[Move]:
    """The moves that split a single-stack environment: every top-level Tenant component of the
    platform stack `env` goes to `<env>.tenant-<name>`. `pulumi state move` takes the children
    along and copies the `k8s` provider, which the tenant program declares identically, so the
    Namespaces and everything in them are kept, never deleted and recreated (pulumi docs,
    "Moving resources between stacks": only top-level URNs need naming)."""
    moves = []
    for urn in urns:
        # urn:pulumi:<stack>::<project>::<parent type$...$type>::<name>; top level: no `$`
        # (the engine leaves the root Stack out of the chain, Pulumi's mocks put it in)
        head, _, types, name = urn.split("::", 3)
        types = types.removeprefix(f"{ROOT_STACK_TYPE}$")
        if head == f"urn:pulumi:{env}" and types == TENANT_TYPE:
            moves.append(Move(name, urn, env, tenant_stack_name(env, name)))
    return sorted(moves, key=lambda m: m.tenant)
