"""Whether rung 5 can run here, and its settings (read once per session).

MLPLATFORM_E2E=1 opts in; MLPLATFORM_E2E_ENV picks the stack (default dev, on a kind cluster;
other stacks use their own kubeconfig context); MLPLATFORM_KEEP=1 keeps the cluster, the stack
and failed scenarios' namespaces afterwards.
"""

from __future__ import annotations

import os

from mlplatform.cluster import REPORTS
from mlplatform.cluster.lifecycle import load, uses_kind
from mlplatform.cluster.tools import KIND_TOOLS, REMOTE_TOOLS, e2e_missing, skip_reason

ENV = os.environ.get("MLPLATFORM_E2E_ENV", "dev")
KEEP = os.environ.get("MLPLATFORM_KEEP") == "1"
OUT = REPORTS / "e2e"
KIND = uses_kind(load(ENV))
MISSING = e2e_missing(os.environ, KIND_TOOLS if KIND else REMOTE_TOOLS)
REASON = skip_reason(MISSING)
