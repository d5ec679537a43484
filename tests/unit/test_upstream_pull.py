"""`mlplatform upstream pull`: the cache layout it writes, following, idempotence, failures, facts.

No network: a fake `helm` and `git` on PATH (they log their arguments and write what the real
ones would), and a fake downloader. Facts are computed on a tiny chart with the real helm.
"""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mlplatform import releases, upstream
from mlplatform import upstream_pull as pull
from mlplatform.cli import main
from mlplatform.config import ConfigError
from mlplatform.graph import CHART
from mlplatform.mockrun import run, stack_inputs
from mlplatform.render import TOOLS
from mlplatform.upstream import Cache, RemoteBase

RELEASE = "1.11"
ARGO = "https://github.com/argoproj/argo-workflows/manifests/base/workflow-controller?ref=v3.7.3"
JOBSET = "https://github.com/kubernetes-sigs/jobset/releases/download/v0.6.0/manifests.yaml"
# A file resource inside a *followed* tree (argo's): proves recursion reaches files too.
EXTRA = "https://example.com/extra/objects.yaml"

# A tiny CRD (`.format(group=...)`): one served storage version, one retired.
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: things.{group}.example.org}}
spec:
  group: {group}.example.org
  names: {{kind: Thing, plural: things}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object}}}}}}}}
  - {{name: v1beta1, served: false, storage: false}}
"""

FAKE_HELM = (
    f"CRD = {CRD!r}\n"
    + """\
import io, json, os, sys, tarfile
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["helm", *args]) + "\\n")
if args[0] == "pull":
    if os.environ.get("FAKE_HELM_FAIL"):
        print(os.environ["FAKE_HELM_FAIL"], file=sys.stderr)
        sys.exit(1)
    version = args[args.index("--version") + 1]
    if os.environ.get("FAKE_HELM_STRIP_V"):
        version = version.lstrip("v")
    name = args[1].rstrip("/").rsplit("/", 1)[-1]
    chart = Path(args[args.index("--untardir") + 1]) / name
    (chart / "templates").mkdir(parents=True)
    (chart / "charts").mkdir()
    meta = f"apiVersion: v2\\nname: {name}\\nversion: {version}\\nappVersion: v0.81.0\\n"
    (chart / "Chart.yaml").write_text(meta)
    if name == "kube-prometheus-stack":  # its CRDs come in a vendored `crds` chart
        (chart / "charts" / "crds").mkdir()
        (chart / "charts" / "crds" / "Chart.yaml").write_text("name: crds\\nversion: 1.0.0\\n")
    (chart / "values.yaml").write_text("image: {tag: x}\\n")
    (chart / "templates" / "cm.yaml").write_text("tag: {{ .Values.image.tag }}\\n")
    # A vendored dependency, packaged the way `helm pull` leaves it.
    with tarfile.open(chart / "charts" / "dep-0.1.0.tgz", "w:gz") as tar:
        for path, text in {
            "dep/Chart.yaml": "apiVersion: v2\\nname: dep\\nversion: 0.1.0\\n",
            "dep/templates/a.yaml": "on: {{ .Values.enabled }}\\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
elif args[0] == "template":
    print("kind: Job\\nmetadata: {name: probe-x, annotations: {helm.sh/hook: pre-install}}")
    print("spec: {template: {spec: {containers: [{name: c, image: example.org/x:1}]}}}")
    if "--include-crds" in args and not os.environ.get("FAKE_HELM_NO_CRDS"):
        lines = (Path(args[2]) / "Chart.yaml").read_text().splitlines()
        name = next(line.split(": ")[1] for line in lines if line.startswith("name: "))
        # As helm prints a crds/ file that starts with `---`: its Source line stands alone.
        own, sub = f"{name}/crds/thing.yaml", f"{name}/charts/dep/crds/x.yaml"
        for source, group in ((own, name), (sub, "dep")):
            print(f"---\\n# Source: {source}\\n---")
            print(CRD.format(group=group))
"""
)

FAKE_GIT = """\
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["git", *args]) + "\\n")
if os.environ.get("FAKE_GIT_FAIL"):
    print(os.environ["FAKE_GIT_FAIL"], file=sys.stderr)
    sys.exit(128)
ref = args[args.index("--branch") + 1]
url, dest = args[-2], Path(args[-1])
key = url.removeprefix("https://").removesuffix(".git") + "@" + ref
trees = json.loads(Path(os.environ["FAKE_GIT_TREES"]).read_text())
if key not in trees:
    print(f"fatal: Remote branch {ref} not found in upstream origin", file=sys.stderr)
    sys.exit(128)
(dest / ".git").mkdir(parents=True)
for path, text in trees[key].items():
    (dest / path).parent.mkdir(parents=True, exist_ok=True)
    (dest / path).write_text(text)
"""


def _trees() -> dict[str, dict[str, str]]:
    """What the fake git serves: every kustomize base the catalogue names (KFP's referencing
    argo-workflows remotely and jobset by URL), and argo's tree (referencing a file)."""
    trees: dict[str, dict[str, str]] = {}
    for component in releases.load(RELEASE).components.values():
        source = component.source.kustomize
        if source is None:
            continue
        remote = RemoteBase.parse(f"{source.url}?ref={source.ref}")
        assert remote is not None
        resources = ["cm.yaml"]
        if remote.repo == "manifests" and "pipeline" in remote.path:
            resources += [ARGO, JOBSET]
        files = trees.setdefault(f"{remote.host}/{remote.owner}/{remote.repo}@{remote.ref}", {})
        files[f"{remote.path}/kustomization.yaml"] = yaml.safe_dump({"resources": resources})
        files[f"{remote.path}/cm.yaml"] = "kind: ConfigMap\nmetadata: {name: x}\n"
        if remote.repo == "training-operator":  # the CRDs its overlay installs
            files[f"{remote.path}/crd.yaml"] = CRD.format(group="training")
            resources.append("crd.yaml")
            files[f"{remote.path}/kustomization.yaml"] = yaml.safe_dump({"resources": resources})
    trees["github.com/argoproj/argo-workflows@v3.7.3"] = {
        "manifests/base/workflow-controller/kustomization.yaml": f"resources:\n- {EXTRA}\n",
    }
    return trees


class Fakes:
    def __init__(self, base: Path, mp: pytest.MonkeyPatch) -> None:
        self.bin = base / "bin"
        self.bin.mkdir(parents=True)
        self.log = base / "calls.jsonl"
        self.log.touch()
        spec = base / "trees.json"
        spec.write_text(json.dumps(_trees()))
        for name, body in (("helm", FAKE_HELM), ("git", FAKE_GIT)):
            script = self.bin / name
            script.write_text(f"#!{sys.executable}\n{body}")
            script.chmod(0o755)
        mp.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        mp.setenv("FAKE_LOG", str(self.log))
        mp.setenv("FAKE_GIT_TREES", str(spec))
        mp.setattr(upstream, "WORK", base / "work")  # Cache.local_tree's build copies
        self.downloads: list[str] = []

    def download(self, url: str, dest: Path) -> None:
        self.downloads.append(url)
        dest.write_text(f"# {url}\n")

    def calls(self, tool: str) -> list[list[str]]:
        lines = self.log.read_text().splitlines()
        return [c[1:] for c in map(json.loads, lines) if c[0] == tool]


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """Release 1.11 pulled once into a fresh cache with the fakes (the real plan)."""
    with pytest.MonkeyPatch.context() as mp:
        fakes = Fakes(tmp_path_factory.mktemp("pull"), mp)
        root = fakes.bin.parent / "cache"
        lines: list[str] = []
        todo = pull.plan([RELEASE])
        summary = pull.Puller(root, log=lines.append, downloader=fakes.download).pull(todo)
        yield root, fakes, todo, summary, lines


def test_plan_takes_the_catalogue_and_the_program_charts():
    todo = pull.plan([RELEASE])
    istio = "https://istio-release.storage.googleapis.com/charts"
    kserve = "oci://ghcr.io/kserve/charts"
    # base is the catalogue's chart, istiod/gateway come from the program; kserve-crd is the
    # catalogue's crds_chart; KServe's OCI tag keeps its v.
    for chart in (
        pull.ChartSource(istio, "base", "1.28.0"),
        pull.ChartSource(istio, "istiod", "1.28.0"),
        pull.ChartSource(istio, "gateway", "1.28.0"),
        pull.ChartSource(kserve, "kserve-crd", "v0.15.2"),
        pull.ChartSource(kserve, "kserve", "v0.15.2"),
    ):
        assert chart in todo.charts
    # Every chart any environment installs on this release is planned (nothing else missing).
    for env in ("dev", "staging", "prod"):
        assert pull.program_charts(env, RELEASE) <= todo.charts
    kfp = releases.load(RELEASE).component("kfp").source.kustomize
    assert RemoteBase("github.com", "kubeflow", "manifests", kfp.ref) in todo.trees
    assert releases.load(RELEASE).component("knative_serving").source.manifest.urls[0] in (
        todo.manifests
    )
    assert not todo.warnings


def test_an_env_invalid_on_a_release_is_a_warning_a_broken_program_is_fatal(monkeypatch):
    real = pull.program_charts

    def staging_invalid(env, release):
        if env == "staging":
            raise ConfigError(["platform.components.serving.mode: not on this release"])
        return real(env, release)

    monkeypatch.setattr(pull, "program_charts", staging_invalid)
    todo = pull.plan([RELEASE])
    assert todo.warnings == [
        f"env staging is not valid on release {RELEASE}: "
        "platform.components.serving.mode: not on this release"
    ]
    assert any(c.chart == "istiod" for c in todo.charts)  # the other environments count

    def broken(env, release):
        raise AttributeError("module 'x' has no attribute 'Y'")

    monkeypatch.setattr(pull, "program_charts", broken)
    with pytest.raises(
        pull.Fatal, match=r"^env dev on release 1\.11: the program fails under mocks"
    ):
        pull.plan([RELEASE])


def test_layout_is_the_shared_caches(pulled):
    root, _, todo, summary, _ = pulled
    assert not summary.failed and not summary.warnings
    for source in todo.charts:
        chart = root / "charts" / source.chart / source.version
        assert yaml.safe_load((chart / "Chart.yaml").read_text())["version"] == source.version
        assert (chart / "templates" / "cm.yaml").is_file()
        # Vendored .tgz dependencies are unpacked into directories, the archive removed.
        assert (chart / "charts" / "dep" / "templates" / "a.yaml").is_file()
        assert not list((chart / "charts").glob("*.tgz"))
    trees = {p.relative_to(root).as_posix() for p in root.glob("kustomize/*/*/*/*")}
    assert trees == {t.tree for t in todo.trees} | {
        "kustomize/github.com/argoproj/argo-workflows/v3.7.3"  # followed from KFP's tree
    }
    assert not list(root.glob("kustomize/**/.git"))
    for url in [*todo.manifests, JOBSET, EXTRA]:
        assert (root / upstream.manifest_path(url)).read_text() == f"# {url}\n"
    assert not list(root.glob(".pull-*"))  # staging directories are gone
    index = json.loads((root / "index.json").read_text())
    assert {e["path"] for e in index if e["kind"] == "chart"} == {
        f"charts/{c.chart}/{c.version}" for c in todo.charts
    }


def test_helm_and_git_are_called_with_the_catalogue_strings(pulled):
    _, fakes, _, _, _ = pulled
    pulls = [c for c in fakes.calls("helm") if c[0] == "pull"]
    assert ["oci://ghcr.io/kserve/charts/kserve", "--version", "v0.15.2"] in [c[1:4] for c in pulls]
    assert ["cert-manager", "--repo", "https://charts.jetstack.io", "--version", "v1.16.1"] in [
        c[1:6] for c in pulls
    ]
    clones = fakes.calls("git")
    assert all(
        c[c.index("clone") :][:5] == ["clone", "--quiet", "--depth", "1", "--branch"]
        for c in clones
    )
    refs = {(c[-2], c[c.index("--branch") + 1]) for c in clones}
    assert ("https://github.com/kubeflow/manifests.git", "v1.11.0") in refs
    assert ("https://github.com/argoproj/argo-workflows.git", "v3.7.3") in refs


def test_facts_are_written_for_every_chart(pulled):
    root, _, todo, _, _ = pulled
    for source in todo.charts:
        facts = json.loads(
            (root / "charts" / source.chart / source.version / "facts.json").read_text()
        )
        assert facts == {
            "chart": source.chart,
            "version": source.version,
            "values_read": ["dep.enabled", "image.tag"],
            "default_render": "ok",
            "hooks_with_default_values": [
                {"kind": "Job", "name": "probe-x", "hook": "pre-install"}
            ],
            "images_with_default_values": ["example.org/x:1"],
        }


def test_the_stack_resolves_charts_and_bases_from_the_pulled_cache(pulled):
    root, _, _, _, _ = pulled
    cache = Cache(root.resolve())
    values, secrets = stack_inputs("dev", RELEASE)
    values["platform"]["upstreamCache"] = str(root)
    graph = run(values, stack="dev", secrets=secrets)
    charts = graph.of_type(CHART)
    assert charts
    for r in charts:
        local = Path(r.inputs["chart"])
        assert local == cache.chart(local.parent.name, r.inputs["version"])
        assert cache.has_templates(local.parent.name, r.inputs["version"])
    kfp = releases.load(RELEASE).component("kfp").source.kustomize
    base = cache.base(f"{kfp.url}?ref={kfp.ref}")
    resources = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    # The remote argo base and the jobset URL now point at local copies.
    argo = (base / resources[1]).resolve()
    assert argo == (upstream.WORK / upstream._key(root) / RemoteBase.parse(ARGO).tree).resolve() / (
        "manifests/base/workflow-controller"
    )
    assert (argo / Path(upstream.manifest_path(EXTRA)).name).is_file()
    assert (base / resources[2]).read_text() == f"# {JOBSET}\n"


# -- CRDs -----------------------------------------------------------------------------------

# Release 1.11's CRD projects, their catalogue versions and where the CRDs come from.
CRDS_1_11 = {
    pull.CrdSource("kueue", "0.14.8", chart="kueue"),
    pull.CrdSource("kserve", "v0.15.2", chart="kserve-crd"),  # the catalogue's crds_chart
    pull.CrdSource("trainer", "2.1.0", chart="kubeflow-trainer"),
    pull.CrdSource("cert-manager", "v1.16.1", chart="cert-manager"),
    pull.CrdSource("istio", "1.28.0", chart="base"),
    pull.CrdSource("prometheus-operator", "79.12.0", chart="kube-prometheus-stack"),
    pull.CrdSource(
        "training-operator",
        "v1.9.2",
        base="github.com/kubeflow/training-operator.git/manifests/overlays/kubeflow?ref=v1.9.2",
    ),
}


def _thing(group: str, source: str) -> dict:
    schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    return {
        "group": f"{group}.example.org",
        "kind": "Thing",
        "scope": "Namespaced",
        "source": source,
        "versions": {
            "v1": {"served": True, "storage": True, "schema": schema},
            "v1beta1": {"served": False, "storage": False, "schema": {}},
        },
    }


def test_plan_names_the_crd_source_of_every_pinned_project():
    assert pull.plan([RELEASE]).crds == CRDS_1_11
    assert {s.project for s in CRDS_1_11} == {p.name for p in pull.CRD_PROJECTS}
    # 1.10 pins no Trainer: no trainer CRDs.
    assert "trainer" not in {s.project for s in pull.crd_sources(releases.load("1.10"))}


def test_crds_are_extracted_per_project_and_tag(pulled):
    root, fakes, _, summary, _ = pulled
    assert {c.label for c in CRDS_1_11} <= set(summary.pulled)
    crds = root / "crds"
    # Tags: the project's git tag spelling (Istio's bare); prometheus-operator's is the
    # kube-prometheus-stack chart's appVersion (the fake's v0.81.0).
    assert sorted(p.name for p in crds.iterdir()) == [
        "cert-manager-v1.16.1",
        "istio-1.28.0",
        "kserve-v0.15.2",
        "kueue-v0.14.8",
        "prometheus-operator-v0.81.0",
        "trainer-v2.1.0",
        "training-operator-v1.9.2",
    ]
    # Only the chart's own CRDs (the `dep` subchart's are another project's), in the
    # shared cache's format; kube-prometheus-stack's come from its vendored `crds` chart.
    for directory, chart, version in (
        ("kueue-v0.14.8", "kueue", "0.14.8"),
        ("kserve-v0.15.2", "kserve-crd", "v0.15.2"),
        ("prometheus-operator-v0.81.0", "crds", "79.12.0"),
    ):
        files = list((crds / directory).iterdir())
        assert [f.name for f in files] == [f"{chart}.example.org_Thing.json"]
        source = "kube-prometheus-stack" if chart == "crds" else chart
        assert json.loads(files[0].read_text()) == _thing(
            chart, f"{source} {version}:crds/thing.yaml"
        )
    (training,) = (crds / "training-operator-v1.9.2").iterdir()
    assert training.name == "training.example.org_Thing.json"
    base = next(iter(c.base for c in CRDS_1_11 if c.base))
    assert json.loads(training.read_text()) == _thing("training", base)
    renders = [c for c in fakes.calls("helm") if c[0] == "template" and "--include-crds" in c]
    by_chart = {Path(c[2]).relative_to(root / "charts").as_posix(): c[4:] for c in renders}
    assert by_chart["cert-manager/v1.16.1"] == ["--set", "crds.enabled=true"]
    assert by_chart["kube-prometheus-stack/79.12.0/charts/crds"] == []
    assert len(by_chart) == 6  # every chart-based project, rendered once
    index = json.loads((root / "index.json").read_text())
    assert {e["path"]: e["files"] for e in index if e["kind"] == "crds"}["crds/kueue-v0.14.8"] == 1


def test_crds_present_are_skipped_and_a_chart_without_crds_fails(pulled, tmp_path, monkeypatch):
    root, fakes, todo, _, _ = pulled
    calls = len(fakes.log.read_text().splitlines())
    summary = pull.Puller(root, log=[].append).pull(pull.Plan(crds=todo.crds))
    assert len(summary.present) == len(CRDS_1_11) and not summary.pulled
    assert len(fakes.log.read_text().splitlines()) == calls
    fresh = Fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_HELM_NO_CRDS", "1")
    kueue = pull.CrdSource("kueue", "0.14.8", chart="kueue")
    todo = pull.Plan(charts={pull.ChartSource("oci://x", "kueue", "0.14.8")}, crds={kueue})
    summary = pull.Puller(tmp_path / "c", log=[].append, downloader=fresh.download).pull(todo)
    assert summary.failed == [f"{kueue.label}: kueue 0.14.8 installs no CustomResourceDefinition"]
    assert not (tmp_path / "c/crds").exists()


def _small_plan() -> pull.Plan:
    return pull.Plan(
        charts={pull.ChartSource("oci://ghcr.io/kserve/charts", "kserve", "v0.15.2")},
        trees={RemoteBase("github.com", "kubeflow", "manifests", "v1.11.0")},
        manifests={"https://example.com/a.yaml"},
    )


def test_a_second_pull_skips_what_is_present_and_force_pulls_again(tmp_path, monkeypatch):
    fakes = Fakes(tmp_path, monkeypatch)
    root = tmp_path / "cache"
    first: list[str] = []
    pull.Puller(root, log=first.append, downloader=fakes.download).pull(_small_plan())
    calls = len(fakes.log.read_text().splitlines())
    again: list[str] = []
    summary = pull.Puller(root, log=again.append, downloader=fakes.download).pull(_small_plan())
    assert len(fakes.log.read_text().splitlines()) == calls  # no helm, no git
    assert len(fakes.downloads) == 3  # a.yaml, KFP's jobset URL, argo's file: once each
    # One line per item: the chart, 2 trees (one followed), 3 files.
    assert len(first) == len(again) == 6
    assert not summary.pulled and len(summary.present) == 6
    # A chart without facts (an interrupted run) gets its facts without a new pull.
    (root / "charts/kserve/v0.15.2/facts.json").unlink()
    summary = pull.Puller(root, log=[].append, downloader=fakes.download).pull(_small_plan())
    assert summary.pulled == ["chart kserve v0.15.2"]
    assert [c[0] for c in fakes.calls("helm")].count("pull") == 1
    summary = pull.Puller(root, force=True, log=[].append, downloader=fakes.download).pull(
        _small_plan()
    )
    assert len(summary.pulled) == 6 and not summary.present
    assert [c[0] for c in fakes.calls("helm")].count("pull") == 2


def test_a_chart_whose_version_differs_from_the_catalogue_fails(tmp_path, monkeypatch):
    fakes = Fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_HELM_STRIP_V", "1")
    summary = pull.Puller(tmp_path / "c", log=[].append, downloader=fakes.download).pull(
        _small_plan()
    )
    assert summary.failed == [
        "chart kserve v0.15.2: Chart.yaml says version 0.15.2, the catalogue pins v0.15.2"
    ]
    assert not (tmp_path / "c/charts/kserve").exists()


def _cli(tmp_path, monkeypatch, capsys, fakes, *extra):
    monkeypatch.setattr(pull, "plan", lambda names: _small_plan())
    monkeypatch.setattr(pull, "download", fakes.download)
    code = main(["upstream", "pull", "--release", RELEASE, "--dir", str(tmp_path / "c"), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_prints_a_line_per_item_and_a_summary(tmp_path, monkeypatch, capsys):
    fakes = Fakes(tmp_path, monkeypatch)
    code, out, err = _cli(tmp_path, monkeypatch, capsys, fakes)
    assert code == 0 and not err
    lines = out.splitlines()
    assert lines[0].startswith(f"upstream pull: release {RELEASE} -> {(tmp_path / 'c').resolve()}")
    assert [line.split()[0] for line in lines[1:7]] == ["pulled"] * 6
    assert lines[7] == (
        f"upstream pull: 6 pulled, 0 present, 0 failed, 0 warnings -> {(tmp_path / 'c').resolve()}"
    )
    assert "platform.upstreamCache" in lines[8]
    assert len(lines) == 9


def test_cli_item_failure_exits_one(tmp_path, monkeypatch, capsys):
    fakes = Fakes(tmp_path, monkeypatch)

    def not_found(url: str, dest: Path) -> None:
        raise pull.PullError(f"GET {url}: HTTP 404 Not Found")

    fakes.download = not_found
    code, out, err = _cli(tmp_path, monkeypatch, capsys, fakes)
    assert code == 1 and not err
    assert (
        "  failed   manifest https://example.com/a.yaml: GET https://example.com/a.yaml: HTTP 404 Not Found\n"
        in out
    )
    assert ": 3 pulled, 0 present, 3 failed," in out  # the chart and both trees are in
    assert "platform.upstreamCache" not in out


def test_cli_dry_run_lists_the_plan_and_writes_nothing(tmp_path, monkeypatch, capsys):
    fakes = Fakes(tmp_path, monkeypatch)
    code, out, err = _cli(tmp_path, monkeypatch, capsys, fakes, "--dry-run")
    assert code == 0 and not err
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines[1:-1]] == [["would", "pull"]] * 3  # as planned
    assert lines[-1] == f"dry run: nothing written to {(tmp_path / 'c').resolve()}"
    assert not (tmp_path / "c").exists() and not fakes.log.read_text()


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "pass --release RELEASE (repeatable) or --all, not both or neither"),
        (["--all", "--release", RELEASE], "not both or neither"),
        (["--release", "0.1"], "['0.1'] not a release"),
    ],
)
def test_cli_needs_exactly_one_of_release_and_all(capsys, argv, message):
    assert main(["upstream", "pull", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "env,message",
    [
        (
            "FAKE_HELM_FAIL",
            'Error: Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io: no such host',
        ),
        (
            "FAKE_GIT_FAIL",
            "fatal: unable to access 'https://github.com/kubeflow/manifests.git/': "
            "Could not resolve host: github.com",
        ),
    ],
)
def test_cli_offline_is_one_line_and_non_zero(tmp_path, monkeypatch, capsys, env, message):
    fakes = Fakes(tmp_path, monkeypatch)
    monkeypatch.setenv(env, message)
    code, _, err = _cli(tmp_path, monkeypatch, capsys, fakes)
    assert code == 3  # the network is missing: the contract's "environment" code
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("mlplatform: upstream pull: network unreachable (")


def test_the_real_downloader_reports_an_unreachable_network(tmp_path):
    with pytest.raises(pull.Fatal, match=r"^network unreachable \(GET http://127\.0\.0\.1:9/x"):
        pull.download("http://127.0.0.1:9/x", tmp_path / "x")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("tool", ["helm", "git"])
def test_cli_missing_tool_is_one_line_and_nothing_is_pulled(tmp_path, monkeypatch, capsys, tool):
    fakes = Fakes(tmp_path, monkeypatch)
    (fakes.bin / tool).unlink()
    other = fakes.bin / ("git" if tool == "helm" else "helm")
    monkeypatch.setenv("PATH", str(fakes.bin))  # no system tools either
    monkeypatch.setattr(pull, "TOOLS", tmp_path / "no-tools")
    assert other.is_file()
    code, _, err = _cli(tmp_path, monkeypatch, capsys, fakes)
    assert code == 3
    assert err == (
        f"mlplatform: upstream pull: {tool} not found on PATH: install {tool} "
        "(or run `make tools`)\n"
    )
    assert not fakes.log.read_text()  # checked before any work


# -- facts on a tiny chart, rendered by the real helm ---------------------------------------

HELM = TOOLS / "helm"
needs_helm = pytest.mark.skipif(not HELM.is_file(), reason=f"no {HELM}: run `make tools`")


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))


def _tiny_chart(root: Path) -> Path:
    chart = root / "tiny"
    _write(
        chart,
        {
            "Chart.yaml": """\
                apiVersion: v2
                name: tiny
                version: v1.2.3
                dependencies:
                - {name: sub, version: 0.1.0, alias: mysub}
            """,
            "values.yaml": "image: {repository: example.org/app, tag: '1.0'}\nreplicas: 2\nextra: {}\n",
            "templates/_helpers.tpl": '{{- define "tiny.name" -}}{{ .Values.nameOverride | default .Chart.Name }}{{- end }}\n',
            "templates/deploy.yaml": """\
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: {{ .Release.Name }}-{{ include "tiny.name" . }}
                  {{- with .Values.extra.labels }}
                  labels: {{ toYaml . | nindent 4 }}
                  {{- end }}
                spec:
                  replicas: {{ $.Values.replicas }}
                  template:
                    spec:
                      containers:
                      - name: app
                        image: {{ .Values.image.repository }}:{{ .Values.image.tag }}
            """,
            "templates/hook.yaml": """\
                apiVersion: batch/v1
                kind: Job
                metadata:
                  name: {{ .Release.Name }}-migrate
                  annotations:
                    helm.sh/hook: pre-install,pre-upgrade
                spec:
                  template:
                    spec:
                      containers:
                      - name: migrate
                        image: example.org/migrate:2.0
            """,
            "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            "charts/sub/values.yaml": "enabled: true\n",
            "charts/sub/templates/cr.yaml": """\
                {{- if .Values.enabled }}
                apiVersion: example.org/v1
                kind: Server
                metadata:
                  name: sub
                spec:
                  image: example.org/server:{{ .Values.global.tag | default "3" }}
                {{- end }}
            """,
        },
    )
    return chart


def test_values_read_scans_templates_and_prefixes_subcharts_by_alias(tmp_path):
    assert pull.values_read(_tiny_chart(tmp_path)) == {
        "nameOverride",
        "extra.labels",
        "replicas",
        "image.repository",
        "image.tag",
        "mysub.enabled",
        "mysub.global.tag",
    }


@needs_helm
def test_facts_of_a_tiny_chart_with_the_real_helm(tmp_path):
    facts = pull.chart_facts(_tiny_chart(tmp_path), str(HELM))
    assert facts["chart"] == "tiny" and facts["version"] == "v1.2.3"
    assert facts["default_render"] == "ok"
    assert facts["hooks_with_default_values"] == [
        {"kind": "Job", "name": "probe-migrate", "hook": "pre-install,pre-upgrade"}
    ]
    # Hooks' images count too; a custom resource's spec.image as well.
    assert facts["images_with_default_values"] == [
        "example.org/app:1.0",
        "example.org/migrate:2.0",
        "example.org/server:3",
    ]


@needs_helm
def test_facts_record_a_failing_default_render(tmp_path):
    chart = _tiny_chart(tmp_path)
    _write(chart, {"templates/req.yaml": 'x: {{ required "domain is required" .Values.domain }}\n'})
    facts = pull.chart_facts(chart, str(HELM))
    assert facts["default_render"].startswith("Error:")
    assert "domain is required" in facts["default_render"]
    assert facts["hooks_with_default_values"] == [] and facts["images_with_default_values"] == []
    assert "domain" in facts["values_read"]


def _crd_chart(root: Path) -> Path:
    """A chart with CRDs in crds/ (one file of two, starting with `---`), one in templates/
    behind a value (as cert-manager's), and one in a subchart's crds/."""
    chart = root / "crdy"
    two = "---\n" + CRD.format(group="a") + "---\n" + CRD.format(group="b")
    templated = "{{- if .Values.crds.enabled }}\n" + CRD.format(group="c") + "{{- end }}\n"
    _write(
        chart,
        {
            "Chart.yaml": "apiVersion: v2\nname: crdy\nversion: 1.0.0\n",
            "values.yaml": "crds: {enabled: false}\n",
            "crds/two.yaml": two,
            "templates/crd.yaml": templated,
            "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            "charts/sub/crds/sub.yaml": CRD.format(group="sub"),
        },
    )
    return chart


@needs_helm
def test_chart_crds_with_the_real_helm(tmp_path):
    chart = _crd_chart(tmp_path)

    def found(*values: str) -> list[tuple[str, str]]:
        return [(d["spec"]["group"], p) for d, p in pull.chart_crds(chart, str(HELM), values)]

    assert found() == [("a.example.org", "crds/two.yaml"), ("b.example.org", "crds/two.yaml")]
    assert found("crds.enabled=true")[-1] == ("c.example.org", "templates/crd.yaml")
    assert len(found("crds.enabled=true")) == 3
