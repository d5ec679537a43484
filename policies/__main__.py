"""The CrossGuard entry point: adapts every registered `Policy` and serves the pack.

Run by the Pulumi engine (`pulumi preview --policy-pack policies/`); never imported.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import (  # after the repo root is importable
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from mlplatform.policies import registry, views, waivers
from mlplatform.policies.core import Policy, View

WAIVERS = waivers.load()
TODAY = dt.date.today()


def _schema(policy: Policy) -> PolicyConfigSchema | None:
    if not policy.schema:
        return None
    return PolicyConfigSchema(
        {k: {**v, "default": policy.defaults[k]} for k, v in policy.schema.items()}
    )


def _stack_views(args: StackValidationArgs) -> list[View]:
    found = (views.from_engine(r.resource_type, r.name, r.urn, r.props) for r in args.resources)
    return [v for v in found if v is not None]


def _report(policy: Policy, report: ReportViolation, view: View | None, message: str) -> None:
    if waivers.find(WAIVERS, policy.name, view, TODAY) is None:
        report(message, view.urn if view is not None and view.urn else None)


def adapt(policy: Policy) -> ResourceValidationPolicy | StackValidationPolicy:
    level = EnforcementLevel(policy.level)

    def resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
        view = views.from_engine(args.resource_type, args.name, args.urn, args.props)
        if view is not None and view.kind and policy.check is not None:
            for message in policy.check(view, policy.config(args.get_config())):
                _report(policy, report, view, message)

    def stack(args: StackValidationArgs, report: ReportViolation) -> None:
        for v in policy.run(_stack_views(args), args.get_config()):
            _report(policy, report, v.resource, v.message)

    if policy.check is not None:
        return ResourceValidationPolicy(
            name=policy.name,
            description=policy.description,
            validate=resource,
            enforcement_level=level,
            config_schema=_schema(policy),
        )
    return StackValidationPolicy(
        name=policy.name,
        description=policy.description,
        validate=stack,
        enforcement_level=level,
        config_schema=_schema(policy),
    )


def waived(args: StackValidationArgs, report: ReportViolation) -> None:
    """Waived violations stay visible: reported at advisory level with their waiver."""
    for f in registry.evaluate(_stack_views(args), today=TODAY):
        if f.waiver is not None:
            report(f"{f.policy.name}: {f.violation.message} — waived: {f.waiver.describe()}", None)


def pack_policies() -> list[Any]:
    adapted: list[Any] = [adapt(p) for p in registry.POLICIES if not p.needs_secret_marks]
    adapted.append(
        StackValidationPolicy(
            name="waived-violations",
            description="Violations covered by a waiver in policies/waivers.yaml (not enforced).",
            validate=waived,
            enforcement_level=EnforcementLevel.ADVISORY,
        )
    )
    return adapted


PolicyPack(
    name="mlplatform-guardrails",
    policies=pack_policies(),
    enforcement_level=EnforcementLevel.ADVISORY,
)
