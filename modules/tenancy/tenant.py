"""The `Tenant` component: three resources per tenant, however many objects it owns.

Under Pulumi every registered resource costs milliseconds, so a tenant registers exactly
its component, one RandomPassword (the MinIO secret key) and one ConfigGroup. The group's
plain objects travel as one YAML stream and the two Secrets carrying the key as `objs`
(so only their key fields are secret); the provider still applies every object as its own
resource, ordered namespace first, and policies and diffs see each one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from mlplatform import alerting
from mlplatform.component import Context, PlatformComponent
from mlplatform.config import PlatformConfig
from mlplatform.kueue_objects import PRIORITY_LABEL
from mlplatform.manifests import Obj, meta
from mlplatform.tenancy import objects, registry, storage
from mlplatform.tenancy.spec import TenantSpec
from mlplatform.tenancy.stacks import DIY_ORGANIZATION, platform_reference

ADMISSION_POLICY = "mlplatform-tenant-priorities"
# Job kinds users submit to their queue (Kueue copies the label onto the Workload).
JOB_RESOURCES = {
    "batch": ["jobs"],
    "kubeflow.org": ["pytorchjobs"],
    "trainer.kubeflow.org": ["trainjobs"],
    "jobset.x-k8s.io": ["jobsets"],
}


def tenant_objects(spec: TenantSpec, ctx: Context) -> list[Obj]:
    """Every non-secret object of one tenant, namespace first."""
    config = ctx.config
    out = [
        objects.tenant_namespace(spec, config),
        *objects.access(spec),
        *objects.quotas(spec),
        *objects.network_policies(spec, config),
        *objects.service_entries(spec, config),
        objects.authorization_policy(spec, config),
        *objects.queues(spec, config),
        *alerting.tenant_config(spec, config),
    ]
    if spec.storage.bucket:
        out.extend(storage.plain_objects(spec, config))
    if registry.enabled(spec, config):
        out.extend(registry.plain_objects(spec, config))
    if config.components.dashboard.enabled:
        out.append(objects.profile(spec))
    if config.components.notebooks.enabled:
        out.extend(objects.pod_defaults(spec, config))
    return out


def yaml_stream(objs: list[Obj]) -> str:
    """A multi-document YAML stream (JSON documents are YAML)."""
    return "\n---\n".join(json.dumps(o, separators=(",", ":")) for o in objs)


class Tenant(PlatformComponent):
    """Outputs `namespace`, `bucket`, `access_key` and `secret_key` (secret)."""

    def __init__(
        self, ctx: Context, spec: TenantSpec, depends_on: Sequence[pulumi.Resource | None] = ()
    ) -> None:
        super().__init__("tenancy:Tenant", spec.name, ctx, depends_on)
        self.spec = spec
        secrets: list[Obj] = []
        outputs: dict[str, pulumi.Input[str]] = {"namespace": spec.namespace}
        if spec.storage.bucket:
            secret_key = self.password(f"{spec.name}-s3-secret-key", 40)
            secrets = storage.secret_objects(spec, secret_key)
            outputs |= {
                "bucket": spec.bucket,
                "access_key": storage.access_key(spec),
                "secret_key": secret_key,
            }
        # The tenant's alert receiver credentials (checked before any resource: see
        # platform.build and build_tenant_stack) travel with the storage keys.
        secrets += alerting.tenant_secret(spec, alerting.tenant_secrets(spec, ctx.config))
        registry_on = registry.enabled(spec, ctx.config)
        if registry_on:
            password = self.password(f"{spec.name}-registry-db-password")
            secrets += registry.secret_objects(spec, password)
        self.group = k8s.yaml.v2.ConfigGroup(
            f"tenant-{spec.name}",
            yaml=yaml_stream(tenant_objects(spec, ctx)),
            objs=secrets or None,
            opts=self._opts(),
        )
        if registry_on:  # upstream's server, in the namespace, after its Secret and Service
            self.registry = self.kustomize_overlay(
                f"model-registry-{spec.name}",
                "model_registry",
                registry.server_settings(spec, ctx.config),
                [self.group],
                overlay="model-registry",
            )
        self.outputs = outputs
        self.register_outputs(outputs)


class TenantAdmission(PlatformComponent):
    """Cluster-wide: a job in a tenant namespace may only name its allowed priority classes."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("tenancy:TenantAdmission", "tenant-admission", ctx, depends_on)
        self.group = self.objects("tenant-admission-policy", admission_objects())
        self.register_outputs({"policy": ADMISSION_POLICY})


def admission_objects() -> list[Obj]:
    """A ValidatingAdmissionPolicy reading each namespace's allowed-priorities annotation."""
    label, allowed = PRIORITY_LABEL, objects.ALLOWED_PRIORITIES
    names = f"namespaceObject.metadata.annotations['{allowed}']"
    expression = (
        f"!has(object.metadata.labels) || !('{label}' in object.metadata.labels) || "
        f"!has(namespaceObject.metadata.annotations) || "
        f"!('{allowed}' in namespaceObject.metadata.annotations) || "
        f"object.metadata.labels['{label}'] in {names}.split(',')"
    )
    message = (
        f"'priority class ' + object.metadata.labels['{label}'] + ' is not allowed in ' + "
        f"namespaceObject.metadata.name + '; allowed: ' + {names}"
    )
    api = "admissionregistration.k8s.io/v1"
    return [
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": meta(ADMISSION_POLICY),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": {
                        "matchExpressions": [{"key": objects.TENANT_LABEL, "operator": "Exists"}]
                    },
                    "resourceRules": [
                        {
                            "apiGroups": [group],
                            "apiVersions": ["*"],
                            "resources": resources,
                            "operations": ["CREATE", "UPDATE"],
                        }
                        for group, resources in JOB_RESOURCES.items()
                    ],
                },
                "validations": [{"expression": expression, "messageExpression": message}],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": meta(ADMISSION_POLICY),
            "spec": {"policyName": ADMISSION_POLICY, "validationActions": ["Deny"]},
        },
    ]


def build_tenants(
    ctx: Context, tenants: Sequence[TenantSpec], depends_on: Sequence[pulumi.Resource | None]
) -> list[Tenant]:
    """Every tenant, after the platform pieces its objects need (CRDs, roles, MinIO)."""
    before = [d for d in depends_on if d is not None]
    if ctx.config.components.kueue.enabled:
        before.append(TenantAdmission(ctx))
    return [Tenant(ctx, spec, depends_on=before) for spec in tenants]


def _checked(values: list[object], release: str, tenant: str) -> object:
    ready, deployed, kubeconfig = values
    if ready is not True:
        raise ValueError(
            f"tenant {tenant}: the platform stack exports no tenantsReady=true; "
            "bring the platform up first (mlplatform up)"
        )
    if deployed != release:
        raise ValueError(
            f"tenant {tenant}: the platform runs release {deployed}, the stack file says "
            f"{release}; bring the platform up first"
        )
    return kubeconfig


def build_tenant_stack(config: PlatformConfig, spec: TenantSpec, project: str, env: str) -> Tenant:
    """One tenant on its own stack: provider settings and readiness from the platform stack.

    The provider is named `k8s` like the platform's, so that `pulumi state move` of a tenant out
    of a single-stack environment lands on an identical provider (no replacement).
    """
    alerting.tenant_secrets(spec, config)  # unset receiver credentials fail before anything
    organization = pulumi.get_organization() or DIY_ORGANIZATION
    ref = pulumi.StackReference(platform_reference(project, env, organization))
    kubeconfig = pulumi.Output.all(
        ref.get_output("tenantsReady"), ref.get_output("release"), ref.get_output("kubeconfig")
    ).apply(lambda v: _checked(v, config.release, spec.name))
    provider = k8s.Provider(
        "k8s",
        kubeconfig=kubeconfig,
        context=ref.get_output("context"),
        enable_server_side_apply=True,
    )
    return Tenant(Context(config, provider), spec)
