"""`pulumi preview` of a platform stack through the same Automation API workspace as `up`.

mlplatform.cluster.stack prepares the generated workspace (local file backend, passphrase
secrets provider, the caller's passphrase variables or the generated passphrase file) and
selects the stack; this module only checks the CLI is there and runs the preview.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from mlplatform.cluster import ROOT
from mlplatform.cluster.stack import StackError

POLICY_PACK = ROOT / "policies"  # the CrossGuard pack (policies/PulumiPolicy.yaml)


class Previewable(Protocol):
    name: str

    def preview(self, **kwargs: Any) -> Any: ...


def pulumi_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the pulumi CLI cannot be used (not found, broken, too old), or None."""
    from mlplatform.cluster.tools import check_tool, search_path

    check = check_tool("pulumi", search_path(environ))
    return None if check.ok else f"pulumi CLI: {check.detail}"


def preview(
    stack: Previewable,
    policy_pack: Path | None = None,
    on_output: Callable[[str], None] = print,
    color: str = "never",
    pack_config: Path | None = None,
) -> dict[str, int]:
    """Run the preview (with the policy pack and its JSON config when given); the planned
    operations and counts."""
    from pulumi import automation as auto

    try:
        result = stack.preview(
            on_output=on_output,
            color=color,
            policy_packs=[str(policy_pack)] if policy_pack else None,
            policy_pack_configs=[str(pack_config)] if policy_pack and pack_config else None,
        )
    except auto.errors.CommandError as err:
        lines = str(err).strip().splitlines()
        raise StackError(f"pulumi preview of {stack.name} failed: {' '.join(lines[-5:])}") from err
    return {str(op): int(n) for op, n in sorted((result.change_summary or {}).items())}
