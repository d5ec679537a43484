"""`mlplatform upgrade rehearse`: one command that rehearses a platform upgrade on kind.

The plan is an ordered list of named steps built from the two releases and their catalogue
diff (pure, offline, what `--dry-run` prints); `execute` walks it with injected callables
(`Actions`): the live ones bring the stack up with the `mlplatform up` machinery at a given
release, run the conformance suite, and migrate Kueue's stored objects; tests pass fakes.

    up R1 -> image -> suite on R1 -> state (model served from MinIO, a KFP run) -> load (kept
    running) -> [save objects of a dropped API version] -> upgrade to R2 -> [restore them]
    -> [Kueue storage migration] -> suite on R2 -> data survived -> report

The middle (state, load, data, downtime) is scenarios/catalog/upgrade_rehearsal.rehearse;
this module puts the stack lifecycle, the API-version steps and the migration around it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform import releases
from mlplatform.upgrade import Change, catalogue_changes

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig
    from mlplatform.scenarios.catalog.upgrade_rehearsal import Rehearsal
    from mlplatform.scenarios.client import Cluster
    from mlplatform.scenarios.report import Report

# Kueue's own migration to the v1beta2 storage version (kubernetes-sigs/kueue v0.16.1
# hack/migrate-to-v1beta2.sh, linked from CHANGELOG-0.16.md "Use v1beta2 as storage"): a merge
# patch `{"apiVersion": "kueue.x-k8s.io/v1beta2"}` of every object of these resources, which
# makes the API server convert and store each one at v1beta2. (plural, kind), script order.
KUEUE_STORED_KINDS = (
    ("cohorts", "Cohort"),
    ("workloadpriorityclasses", "WorkloadPriorityClass"),
    ("localqueues", "LocalQueue"),
    ("clusterqueues", "ClusterQueue"),
    ("resourceflavors", "ResourceFlavor"),
    ("admissionchecks", "AdmissionCheck"),
    ("provisioningrequestconfigs", "ProvisioningRequestConfig"),
    ("multikueueclusters", "MultiKueueCluster"),
    ("multikueueconfigs", "MultiKueueConfig"),
    ("topologies", "Topology"),
    ("workloads", "Workload"),
)
CRD_API = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class Recreate:
    """An API version upstream dropped without conversion: the API server refuses a CRD update
    that leaves a stored version out of spec.versions, so before the upgrade the objects are
    backed up and the CRD deleted; after it they are restored at the new version."""

    component: str
    group: str
    plural: str
    kind: str
    from_version: str
    to_version: str
    since: str  # the component version without `from_version`
    renames: tuple[tuple[str, str], ...] = ()  # spec fields renamed on the way

    def applies(self, old: str, new: str) -> bool:
        from packaging.version import Version

        return Version(old.lstrip("v")) < Version(self.since) <= Version(new.lstrip("v"))

    def restored(self, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        keep = {k: md[k] for k in ("name", "namespace", "labels", "annotations") if md.get(k)}
        spec = dict(obj.get("spec") or {})
        for old, new in self.renames:
            if old in spec:
                spec[new] = spec.pop(old)
        return {"apiVersion": f"{self.group}/{self.to_version}", "kind": self.kind,
                "metadata": keep, "spec": spec}  # fmt: skip


# Kueue 0.13.0 moved Cohort from v1alpha1 to v1beta1 with no overlap (CRDs: kueue v0.12.10
# serves only v1alpha1, v0.13.4 only v1beta1) and spec.parent became spec.parentName; its
# "Upgrading steps" (kubernetes-sigs/kueue CHANGELOG/CHANGELOG-0.13.md at v0.14.8): back up the
# Cohorts, delete CRD cohorts.kueue.x-k8s.io, install, restore them at v1beta1.
KUEUE_RECREATED = (
    Recreate("kueue", "kueue.x-k8s.io", "cohorts", "Cohort", "v1alpha1", "v1beta1", "0.13.0",
             (("parent", "parentName"),)),
)  # fmt: skip


class RehearsalRefused(ValueError):
    """The rehearsal cannot run as asked; the message says why and what to pass instead."""


@dataclass(frozen=True)
class Migration:
    """Rewrite every stored object of `group` at `to_version`, then forget `from_version`."""

    component: str
    group: str
    from_version: str
    to_version: str
    how: str  # the catalogue's storage_migration text

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.to_version}"


@dataclass(frozen=True)
class Step:
    name: str
    does: str


@dataclass
class RehearsalPlan:
    env: str
    from_release: str
    to_release: str
    context: str
    kubernetes: str
    steps: list[Step]
    changes: list[Change]
    migration: Migration | None
    recreates: list[Recreate] = field(default_factory=list)
    kfp_run: bool = True  # the stack runs Kubeflow Pipelines: a run is kept across the upgrade

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "from": self.from_release,
            "to": self.to_release,
            "context": self.context,
            "kubernetes": self.kubernetes,
            "steps": [asdict(s) for s in self.steps],
            "changes": [str(c) for c in self.changes],
            "migration": asdict(self.migration) if self.migration else None,
            "recreates": [asdict(r) for r in self.recreates],
            "kfp_run": self.kfp_run,
        }


def kueue_migration(old: releases.Release, new: releases.Release) -> Migration | None:
    """The Kueue storage migration when the upgrade changes Kueue's API version and the target
    release says how to migrate (catalogue `storage_migration`); else None."""
    if "kueue" not in old.components or "kueue" not in new.components:
        return None
    before, after = old.component("kueue"), new.component("kueue")
    if not after.storage_migration or before.api("kueue") == after.api("kueue"):
        return None
    group, _, from_version = before.api("kueue").rpartition("/")
    to_group, _, to_version = after.api("kueue").rpartition("/")
    if group != to_group:
        raise RehearsalRefused(f"kueue moves API group {group} -> {to_group}: not a migration")
    return Migration(
        "kueue", group, from_version, to_version, " ".join(after.storage_migration.split())
    )


def plan(
    env: str,
    config: PlatformConfig,
    from_release: str,
    to_release: str,
    kubernetes: str | None = None,
) -> RehearsalPlan:
    """The steps, in order; RehearsalRefused for an unknown release, a downgrade (or no
    upgrade), a stack not on kind, or a Kubernetes version (the stack's, or `kubernetes`)
    outside either release's range or without a pinned kind node image."""
    from mlplatform.cluster import toolchain
    from mlplatform.cluster.lifecycle import uses_kind

    known = releases.available()
    for flag, release in (("--from", from_release), ("--to", to_release)):
        if release not in known:
            raise RehearsalRefused(f"{flag} {release!r} is not a release; choose one of {known}")
    if known.index(to_release) <= known.index(from_release):
        what = "no upgrade" if to_release == from_release else "a downgrade"
        raise RehearsalRefused(
            f"{from_release} -> {to_release} is {what}; pass --to a release newer than "
            f"{from_release} ({', '.join(known[known.index(from_release) + 1 :]) or 'none'})"
        )
    if not uses_kind(config):
        raise RehearsalRefused(
            f"stack {env} is not on kind (cluster.context {config.cluster.context!r}); "
            "rehearsals run on a local kind cluster: use --env dev"
        )
    old, new = releases.load(from_release), releases.load(to_release)
    images = toolchain().kind.node_images
    both = [v for v in sorted(images) if old.kubernetes.contains(v) and new.kubernetes.contains(v)]
    k8s = kubernetes or config.kubernetes_version
    if k8s not in both:
        fix = f"pass --kubernetes {both[-1]}" if both else "no pinned kind node image fits both"
        raise RehearsalRefused(
            f"Kubernetes {k8s} is not in both {from_release} ({old.kubernetes.min}-"
            f"{old.kubernetes.max}) and {to_release} ({new.kubernetes.min}-{new.kubernetes.max}) "
            f"with a pinned kind node image, and a kind cluster cannot change version: {fix}"
        )
    migration = kueue_migration(old, new)
    recreates = recreated(old, new)
    kfp = config.components.pipelines.enabled
    ctx = config.cluster.context or ""
    steps = [
        Step(f"up {from_release}", f"bring stack {env} up at release {from_release} on kind "
             f"context {ctx} (a fresh cluster): pulumi up, idempotency preview, tenant stacks"),
        Step("image", "build the scenario image and load it into the kind nodes "
             "(MLPLATFORM_SCENARIO_IMAGE: use that image instead)"),
        Step(f"suite {from_release}", f"every conformance scenario on {from_release}"),
        Step("state", "a model stored in MinIO, served by an InferenceService"
             + ("; a KFP pipeline run to success" if kfp else "") + " (namespaces kept)"),
        Step("load", "a paced Locust load ('upgrade' SLO profile) hits the model throughout"),
    ]  # fmt: skip
    steps += [
        Step(f"back up {r.kind}", f"{r.component} {r.since} dropped {r.group}/{r.from_version} "
             f"{r.kind}: save every {r.kind}, delete CRD {r.plural}.{r.group}")
        for r in recreates
    ]  # fmt: skip
    steps.append(
        Step(f"upgrade {to_release}", f"pulumi up of stack {env} at release {to_release} "
             "(tenant stacks too), idempotency preview")
    )  # fmt: skip
    steps += [
        Step(f"restore {r.kind}", f"re-create the saved {r.kind} objects at "
             f"{r.group}/{r.to_version}{_renames(r)}")
        for r in recreates
    ]  # fmt: skip
    if migration:
        kinds = ", ".join(k for _, k in KUEUE_STORED_KINDS)
        steps.append(
            Step(
                f"migrate {migration.component}",
                f"storage version migration {migration.group} {migration.from_version} -> "
                f"{migration.to_version}: merge-patch apiVersion {migration.api_version} into "
                f"every stored {kinds}; then drop {migration.from_version} from each "
                f"{migration.group} CRD's status.storedVersions",
            )
        )
    steps += [
        Step(f"suite {to_release}", f"every conformance scenario on {to_release}"),
        Step("data", "the model created on the old release is still Ready and served, its "
             "MinIO objects are all there" + (", the KFP run is still SUCCEEDED" if kfp else "")
             + ", the load held the 'upgrade' SLO"),
        Step("report", "downtime = failed requests / request rate; rehearsal.json, suite "
             "reports before/ and after/"),
    ]  # fmt: skip
    return RehearsalPlan(env, from_release, to_release, ctx, k8s, steps,
                         catalogue_changes(old, new), migration, recreates, kfp)  # fmt: skip


def recreated(old: releases.Release, new: releases.Release) -> list[Recreate]:
    """The dropped API versions an upgrade crosses (pinned: KUEUE_RECREATED)."""

    def version(rel: releases.Release, name: str) -> str | None:
        component = rel.components.get(name)  # type: ignore[call-overload]
        return component.version if component else None

    return [
        r
        for r in KUEUE_RECREATED
        if (a := version(old, r.component)) and (b := version(new, r.component)) and r.applies(a, b)
    ]


def _renames(r: Recreate) -> str:
    return "".join(f", spec.{a} -> spec.{b}" for a, b in r.renames)


def render(p: RehearsalPlan) -> str:
    lines = [
        f"upgrade rehearsal for {p.env}: {p.from_release} -> {p.to_release} "
        f"(kind context {p.context}, Kubernetes {p.kubernetes})"
    ]
    lines += [f"  {i}. {s.name}: {s.does}" for i, s in enumerate(p.steps, 1)]
    lines.append(f"catalogue changes ({len(p.changes)}):")
    lines += [f"  - {c}" for c in p.changes]
    return "\n".join(lines)


# --- the storage migration ------------------------------------------------------------------


@dataclass
class Migrated:
    objects: dict[str, int] = field(default_factory=dict)  # kind -> objects rewritten
    failed: list[str] = field(default_factory=list)
    forgot: list[str] = field(default_factory=list)  # CRDs whose old stored version was dropped


def migrate_storage(
    cluster: Cluster,
    m: Migration,
    drop_stored_version: Callable[[str, list[str]], None],
    kinds: tuple[tuple[str, str], ...] = KUEUE_STORED_KINDS,
) -> Migrated:
    """Merge-patch `apiVersion: <group>/<to>` into every object of every installed kind, then,
    when all were rewritten, set each CRD's status.storedVersions to the versions left
    (`drop_stored_version(crd, versions)`: the CRD status subresource)."""
    from mlplatform.scenarios.client import ApiError

    done = Migrated()
    crds: dict[str, list[str]] = {}
    for plural, kind in kinds:
        crd = cluster.get(CRD_API, "CustomResourceDefinition", f"{plural}.{m.group}")
        if crd is None:
            continue  # that API is not installed (MultiKueue, provisioning, topologies)
        crds[crd["metadata"]["name"]] = list(crd.get("status", {}).get("storedVersions") or [])
        count = 0
        for obj in cluster.list(m.api_version, kind):
            md = obj["metadata"]
            try:
                cluster.patch(m.api_version, kind, md["name"], {"apiVersion": m.api_version},
                              md.get("namespace"))  # fmt: skip
                count += 1
            except ApiError as err:
                if err.status != 404:  # gone meanwhile (a finished Workload): nothing stored
                    done.failed.append(f"{kind} {md.get('namespace', '')}/{md['name']}: {err}")
        done.objects[kind] = count
    if done.failed:
        return done
    for name, stored in sorted(crds.items()):
        if m.from_version in stored:
            drop_stored_version(name, [v for v in stored if v != m.from_version] or [m.to_version])
            done.forgot.append(name)
    return done


def kubectl_drop_stored_version(
    kubeconfig: str | None, context: str
) -> Callable[[str, list[str]], None]:
    """storedVersions lives in the CRD's status subresource: `kubectl patch --subresource`."""

    from mlplatform.cluster.tools import search_path

    def drop(crd: str, versions: list[str]) -> None:
        argv = ["kubectl", "--context", context, "patch", "customresourcedefinition", crd,
                "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": {"storedVersions": versions}})]  # fmt: skip
        if kubeconfig:
            argv[1:1] = ["--kubeconfig", kubeconfig]
        env = {**os.environ, "PATH": search_path(os.environ)}  # the repo's .tools/bin too
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:6])}: {done.stderr.strip()}")

    return drop


def back_up(cluster: Cluster, r: Recreate, out_dir: Path) -> list[dict[str, Any]]:
    """Every object of the dropped version (also saved to OUT/backup-<plural>.json), then the
    CRD deleted so the upgrade can install the new one."""
    name = f"{r.plural}.{r.group}"
    if cluster.get(CRD_API, "CustomResourceDefinition", name) is None:
        return []
    objs = cluster.list(f"{r.group}/{r.from_version}", r.kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"backup-{r.plural}.json").write_text(json.dumps(objs, indent=2, default=str))
    cluster.delete(CRD_API, "CustomResourceDefinition", name)
    return objs


def restore(cluster: Cluster, r: Recreate, objs: list[dict[str, Any]]) -> int:
    for obj in objs:
        cluster.create(r.restored(obj))
    return len(objs)


# --- execution ------------------------------------------------------------------------------


@dataclass
class Actions:
    """What the rehearsal does to the world (live: `live_actions`; tests: fakes)."""

    up: Callable[[str], None]  # bring the stack up (or upgrade it) at a release
    image: Callable[[], str]  # the scenario image the cluster can run
    cluster: Callable[[], Cluster]
    suite: Callable[[str, Path, str], Report]  # (release, out dir, image)
    migrate: Callable[[Migration], Migrated]
    middle: Callable[..., Rehearsal] | None = None  # upgrade_rehearsal.rehearse


@dataclass
class StepResult:
    name: str
    status: str  # passed | failed | skipped
    duration_s: float
    detail: str = ""


@dataclass
class Outcome:
    plan: RehearsalPlan
    steps: list[StepResult]
    downtime_s: float | None = None
    load: dict[str, float] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(s.status == "passed" for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "plan": self.plan.as_dict(),
            "steps": [asdict(s) for s in self.steps],
            "downtime_s": self.downtime_s,
            "load": self.load,
            "checks": self.checks,
        }


class _Stopped(RuntimeError):
    """A step failed and is already recorded."""


class _Recorder:
    def __init__(self, p: RehearsalPlan, say: Callable[[str], None]) -> None:
        self.order = [s.name for s in p.steps]
        self.results: dict[str, StepResult] = {}
        self.say = say
        self.mark = time.monotonic()

    def done(self, name: str, status: str = "passed", detail: str = "") -> None:
        now = time.monotonic()
        self.results[name] = StepResult(name, status, round(now - self.mark, 1), detail)
        self.mark = now
        line = f"[{len(self.results)}/{len(self.order)}] {name}: {status.upper()}"
        self.say(f"{line} ({self.results[name].duration_s:.0f}s){f' - {detail}' if detail else ''}")

    def steps(self, why: str) -> list[StepResult]:
        return [self.results.get(n) or StepResult(n, "skipped", 0.0, why) for n in self.order]


def execute(
    p: RehearsalPlan,
    actions: Actions,
    out_dir: Path,
    load_seconds: int,
    keep_on_failure: bool = False,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Walk the plan; the first failed lifecycle step stops the rehearsal (the rest skipped)."""
    from mlplatform.scenarios.catalog.upgrade_rehearsal import rehearse

    rec = _Recorder(p, say)
    up_from, up_to = f"up {p.from_release}", f"upgrade {p.to_release}"

    def finish(outcome: Outcome) -> Outcome:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "rehearsal.json").write_text(json.dumps(outcome.as_dict(), indent=2) + "\n")
        return outcome

    try:
        actions.up(p.from_release)
        rec.done(up_from)
        image = actions.image()
        rec.done("image", detail=image)
    except Exception as err:
        rec.done(up_from if up_from not in rec.results else "image", "failed", _line(err))
        return finish(Outcome(p, rec.steps("an earlier step failed")))

    def suite(release: str, out: Path) -> Report:
        report = actions.suite(release, out, image)
        c = report.counts()
        rec.done(f"suite {release}", "passed" if report.passed else "failed",
                 f"{c['passed']} passed, {c['failed'] + c['error']} failed; {out}")  # fmt: skip
        return report

    cluster = actions.cluster()

    def upgrade() -> None:
        saved = {}
        for r in p.recreates:
            saved[r.kind] = back_up(actions.cluster(), r, out_dir)
            rec.done(f"back up {r.kind}", detail=f"{len(saved[r.kind])} saved, CRD deleted")
        actions.up(p.to_release)
        rec.done(up_to)
        for r in p.recreates:
            # a fresh client: the restored version is served only after the upgrade
            count = restore(actions.cluster(), r, saved[r.kind])
            rec.done(f"restore {r.kind}", detail=f"{count} restored")
        if p.migration:
            name = f"migrate {p.migration.component}"
            migrated = actions.migrate(p.migration)
            if migrated.failed:
                first = migrated.failed[0]
                rec.done(name, "failed", f"{len(migrated.failed)} not rewritten, first: {first}")
                raise _Stopped(f"storage migration failed: {first}")
            counts = ", ".join(f"{k} {n}" for k, n in migrated.objects.items() if n)
            dropped = f"{p.migration.from_version} dropped from {len(migrated.forgot)} CRDs"
            rec.done(name, detail=f"{counts or 'no objects'} rewritten; {dropped}")

    middle = actions.middle or rehearse
    try:
        result = middle(cluster, p.from_release, p.to_release, upgrade, suite,
                        out_dir, load_seconds, keep_on_failure, on_phase=rec.done,
                        kfp_run=p.kfp_run, image=image)  # fmt: skip
    except Exception as err:  # a lifecycle step or the harness failed: the rest is skipped
        if not isinstance(err, _Stopped):
            rec.done(next(n for n in rec.order if n not in rec.results), "failed", _line(err))
        return finish(Outcome(p, rec.steps("an earlier step failed")))
    checks = dict(result.checks)
    data_ok = bool(checks) and all(v == "ok" for v in checks.values())
    rec.done("data", "passed" if data_ok else "failed",
             "; ".join(f"{k}: {v}" for k, v in checks.items()))  # fmt: skip
    rec.done("report", detail=f"downtime {result.downtime_s:g}s")
    return finish(Outcome(p, rec.steps(""), result.downtime_s, result.load, checks))


def _line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# --- the live actions -----------------------------------------------------------------------


def config_at(config: PlatformConfig, release: str, kubernetes: str) -> PlatformConfig:
    return config.model_copy(update={"release": release, "kubernetes_version": kubernetes})


def live_actions(
    env: str,
    config: PlatformConfig,
    kubernetes: str,
    kubeconfig: Path | None,
    keep_on_failure: bool,
    say: Callable[[str], None] = print,
) -> Actions:
    """The rehearsal on the real kind cluster of `env` (needs kind, docker, pulumi, kubectl)."""

    from mlplatform.cluster import ROOT, lifecycle
    from mlplatform.scenarios import runner
    from mlplatform.scenarios.client import KubeCluster
    from mlplatform.scenarios.images import scenario_image

    deployed: dict[str, lifecycle.Deployment] = {}

    def up(release: str) -> None:
        deployed["dep"] = lifecycle.bring_up(
            env, config_at(config, release, kubernetes), kind=True, kubeconfig=kubeconfig,
            keep_cluster=True, out=say,
        )  # fmt: skip

    def where() -> tuple[str | None, str]:
        dep = deployed["dep"]
        return (str(dep.kubeconfig) if dep.kubeconfig else None), dep.context

    def image() -> str:
        given = os.environ.get("MLPLATFORM_SCENARIO_IMAGE")
        if given:
            return given
        dep = deployed["dep"]
        assert dep.cluster is not None
        name = scenario_image()
        dep.cluster.build_and_load(name, ROOT / "scenarios" / "Dockerfile")
        return name

    def suite(release: str, out: Path, image: str) -> Report:
        path, context = where()
        return runner.run(path, release, None, out, keep_on_failure, context=context, image=image)

    def cluster() -> Cluster:
        return KubeCluster.from_kubeconfig(*where())

    def migrate(m: Migration) -> Migrated:
        return migrate_storage(cluster(), m, kubectl_drop_stored_version(*where()))

    return Actions(up, image, cluster, suite, migrate)
