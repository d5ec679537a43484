"""What one team costs: Pulumi resources, Kubernetes objects and steady-state pods per tenant.

Usage: .venv/bin/python benchmarks/tenant_cost.py [--cache DIR] [--env dev]
Renders the stack (mock run, kustomize builds: the shared data-only cache is enough, tenants
have no charts) and prints one row per tenant, then what the per-team features add: the
model registry (opt-in per tenant), Katib and notebooks (objects in every team namespace).
Pods are steady state: Deployments' and StatefulSets' replicas; Jobs (one-off) are counted
apart. Upstream's own per-namespace pipeline machinery is the comparison the issue names.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="upstream cache (default: the shared one)")
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()

    from mlplatform import render, upstream
    from mlplatform.config import parse_platform
    from mlplatform.mockrun import run, stack_inputs
    from mlplatform.tenancy.spec import parse_tenants

    cache = upstream.open_cache(args.cache or upstream.default_dir())
    if cache is None:
        sys.exit("no upstream cache: pass --cache DIR")
    values, secrets = stack_inputs(args.env, None)
    values["platform"]["upstreamCache"] = str(cache.root)
    graph = run(values, stack=args.env, secrets=secrets)
    out = render.render(graph, cache, str(values["platform"]["kubernetesVersion"]))
    config = parse_platform(values["platform"])
    tenants = parse_tenants(values.get("tenants"), config)
    print(f"{args.env}: {len(tenants)} tenants")
    header = ("tenant", "resources", "objects", "in its ns", "pods", "jobs", "registry")
    print("  ".join(f"{h:>10}" for h in header))
    for t in tenants:
        component = next(r for r in graph.resources if r.name == t.name and "Tenant" in r.type)
        resources = len(list(graph.descendants(component))) + 1
        objs = out.objects.get(t.name, [])
        in_ns = sum(o["metadata"].get("namespace") == t.namespace for o in objs)
        pods = sum(
            o["spec"].get("replicas", 1)
            for o in objs
            if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"].get("namespace")
        )
        jobs = sum(o["kind"] == "Job" for o in objs)
        row = (t.name, resources, len(objs), in_ns, pods, jobs, "yes" if t.model_registry else "no")
        print("  ".join(f"{v:>10}" for v in row))
        kinds = Counter(o["kind"] for o in objs)
        print(f"{'':>10}  " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
