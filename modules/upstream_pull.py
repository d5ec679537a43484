"""Fill an upstream cache from the network (`mlplatform upstream pull`, on a connected machine).

What a release needs comes from the catalogue (every component's chart, CRD chart, kustomize
tree and release manifests) plus the charts the program installs beside a component's own
(Istio's istiod and gateway): a mock run of every environment on that release lists them.
Kustomize trees are followed: remote bases in their kustomization files are cloned too
(KFP -> argo-workflows, Trainer -> lws) and http(s) file resources downloaded. The layout is
`mlplatform.upstream`'s (the same as `../shared/upstream`); each chart gets a `facts.json`.
Idempotent: what is present is skipped unless `force`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlplatform import releases
from mlplatform.config import ConfigError
from mlplatform.render import TOOLS
from mlplatform.upstream import KUSTOMIZATION_FILES, Cache, RemoteBase, _Loader, manifest_path

Downloader = Callable[[str, Path], None]
# The release name `helm template` gets for facts (hook and object names carry it).
PROBE_RELEASE = "probe"
_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
# helm/git/urllib messages that mean "no network", not "this item is wrong".
_OFFLINE = re.compile(
    r"could not resolve|no such host|name resolution|name or service not known|"
    r"network is unreachable|connection refused|connection timed out|i/o timeout|"
    r"failed to connect|no route to host",
    re.IGNORECASE,
)


class PullError(Exception):
    """One item could not be pulled (one line, naming it)."""


class Fatal(Exception):
    """The whole pull cannot go on: a tool is missing or the network is unreachable."""


@dataclass(frozen=True, order=True)
class ChartSource:
    """A chart at the catalogue's version string (KServe's keep their `v`)."""

    repo: str  # https:// repository or oci:// registry prefix
    chart: str
    version: str

    @property
    def label(self) -> str:
        return f"chart {self.chart} {self.version}"

    def pull_args(self) -> list[str]:
        if self.repo.startswith("oci://"):
            return [f"{self.repo.rstrip('/')}/{self.chart}", "--version", self.version]
        return [self.chart, "--repo", self.repo, "--version", self.version]


@dataclass
class Plan:
    """Sources to pull; trees are whole repositories at a ref (path "")."""

    charts: set[ChartSource] = field(default_factory=set)
    trees: set[RemoteBase] = field(default_factory=set)
    manifests: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def _tree(remote: RemoteBase) -> RemoteBase:
    return RemoteBase(remote.host, remote.owner, remote.repo, remote.ref)


def plan(names: Iterable[str], environments: Iterable[str] | None = None) -> Plan:
    """Every source the releases `names` install: catalogue entries plus program-level charts."""
    from mlplatform.stackconfig import environments as all_environments

    out = Plan()
    envs = list(all_environments() if environments is None else environments)
    for name in names:
        release = releases.load(name)
        for component in release.components.values():
            source = component.source
            if source.helm:
                for chart in filter(None, (source.helm.chart, source.helm.crds_chart)):
                    out.charts.add(ChartSource(source.helm.repo, chart, component.version))
            if source.kustomize:
                url = f"{source.kustomize.url}?ref={source.kustomize.ref}"
                remote = RemoteBase.parse(url)
                if remote is None:
                    raise ValueError(f"catalogue {name}: not a remote kustomize base: {url}")
                out.trees.add(_tree(remote))
            if source.manifest:
                out.manifests.update(source.manifest.urls)
        for env in envs:
            try:
                out.charts.update(program_charts(env, name))
            except ConfigError as err:  # that environment cannot run this release anyway
                problems = "; ".join(err.problems)
                out.warnings.append(f"env {env} is not valid on release {name}: {problems}")
            except Exception as err:  # a broken program would silently drop its sibling charts
                raise Fatal(
                    f"env {env} on release {name}: the program fails under mocks, so the charts "
                    f"it installs are unknown ({type(err).__name__}: {_one_line(str(err))})"
                ) from None
    return out


def program_charts(env: str, release: str) -> set[ChartSource]:
    """The charts one environment's program registers on `release` (a mock run, no cache)."""
    from mlplatform.graph import CHART
    from mlplatform.mockrun import run, stack_inputs

    values, secrets = stack_inputs(env, release)
    # Upstream sources, not the mirror's or a cache's (which may not exist yet).
    values["platform"].pop("mirror", None)
    values["platform"].pop("upstreamCache", None)
    found: set[ChartSource] = set()
    for r in run(values, stack=env, secrets=secrets).of_type(CHART):
        ref, version = str(r.inputs["chart"]), str(r.inputs.get("version", ""))
        repo = (r.inputs.get("repositoryOpts") or {}).get("repo")
        if ref.startswith("oci://"):
            prefix, _, chart = ref.rstrip("/").rpartition("/")
            found.add(ChartSource(prefix, chart, version))
        elif repo:
            found.add(ChartSource(str(repo), ref, version))
    return found


# -- facts ---------------------------------------------------------------------------------


def subcharts(chart_dir: Path) -> Iterator[tuple[Path, str]]:
    """(directory, values key) of each vendored subchart: its alias in Chart.yaml, else name."""
    deps = (_chart_yaml(chart_dir).get("dependencies") or []) if chart_dir.is_dir() else []
    charts = chart_dir / "charts"
    for sub in sorted(charts.iterdir()) if charts.is_dir() else []:
        if not (sub / "Chart.yaml").is_file():
            continue
        name = str(_chart_yaml(sub).get("name") or sub.name)
        aliases = [str(d["alias"]) for d in deps if d.get("name") == name and d.get("alias")]
        for key in aliases or [name]:
            yield sub, key


def values_read(chart_dir: Path, prefix: str = "") -> set[str]:
    """Every `.Values.<path>` the templates read; a subchart's prefixed by its values key."""
    found: set[str] = set()
    templates = chart_dir / "templates"
    for path in sorted(templates.rglob("*")) if templates.is_dir() else []:
        if path.is_file():
            text = path.read_text(errors="replace")
            found.update(prefix + m.group(1)[1:] for m in _VALUES_REF.finditer(text))
    for sub, key in subcharts(chart_dir):
        found |= values_read(sub, f"{prefix}{key}.")
    return found


def images(value: Any) -> set[str]:
    """Every string under an `image` key (containers, and CRs such as Prometheus' spec.image)."""
    if isinstance(value, dict):
        found = {value["image"]} if isinstance(value.get("image"), str) else set()
        for v in value.values():
            found |= images(v)
        return found
    if isinstance(value, list):
        return set().union(*(images(v) for v in value)) if value else set()
    return set()


def chart_facts(chart_dir: Path, helm: str) -> dict[str, Any]:
    """The shared cache's facts.json for one chart directory (templates needed to render)."""
    meta = _chart_yaml(chart_dir)
    facts: dict[str, Any] = {
        "chart": meta.get("name"),
        "version": str(meta.get("version")),
        "values_read": sorted(values_read(chart_dir)),
        "default_render": "ok",
        "hooks_with_default_values": [],
        "images_with_default_values": [],
    }
    out = subprocess.run(
        [helm, "template", PROBE_RELEASE, str(chart_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        facts["default_render"] = out.stderr.strip() or f"helm template exited {out.returncode}"
        return facts
    docs = [d for d in yaml.safe_load_all(out.stdout) if isinstance(d, dict)]
    for doc in docs:
        meta_ = doc.get("metadata") or {}
        hook = (meta_.get("annotations") or {}).get("helm.sh/hook")
        if hook is not None:
            entry = {"kind": doc.get("kind"), "name": meta_.get("name"), "hook": hook}
            facts["hooks_with_default_values"].append(entry)
    facts["images_with_default_values"] = sorted(images(docs))
    return facts


def _chart_yaml(chart_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((chart_dir / "Chart.yaml").read_text()) or {}


# -- fetching ------------------------------------------------------------------------------


def find_tool(name: str) -> str:
    """`name` on PATH (the operator's), else the project's `.tools/bin`."""
    found = shutil.which(name) or shutil.which(name, path=str(TOOLS))
    if not found:
        raise Fatal(f"{name} not found on PATH: install {name} (or run `make tools`)")
    return found


def download(url: str, dest: Path) -> None:
    """GET `url` into `dest` (written whole or not at all)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except urllib.error.HTTPError as err:
        raise PullError(f"GET {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise Fatal(f"network unreachable (GET {url}: {reason})") from None
    partial = dest.with_name(f".{dest.name}.{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, dest)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines)[:400] or "failed"


@dataclass
class Summary:
    pulled: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def line(self, root: Path) -> str:
        return (
            f"upstream pull: {len(self.pulled)} pulled, {len(self.present)} present, "
            f"{len(self.failed)} failed, {len(self.warnings)} warnings -> {root}"
        )


class Puller:
    """Pulls a `Plan` into a cache; one progress line per item through `log`."""

    def __init__(
        self,
        root: Path,
        force: bool = False,
        log: Callable[[str], None] = print,
        downloader: Downloader | None = None,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.cache = Cache(root.resolve())
        self.force = force
        self.log = log
        self.downloader = downloader or download
        self.summary = Summary()
        self._helm: str | None = None
        self._git: str | None = None

    @property
    def helm(self) -> str:
        self._helm = self._helm or find_tool("helm")
        return self._helm

    @property
    def git(self) -> str:
        self._git = self._git or find_tool("git")
        return self._git

    def pull(self, todo: Plan) -> Summary:
        """Charts, then trees (following their remote references), then manifests."""
        if todo.charts:
            _ = self.helm  # fail before any work, not halfway
        if todo.trees:
            _ = self.git
        for warning in todo.warnings:
            self._record("warning", warning)
        for chart in sorted(todo.charts):
            self._item(chart.label, lambda c=chart: self._chart(c))
        manifests = set(todo.manifests)
        queue, seen = sorted(todo.trees, key=str), set(todo.trees)
        while queue:
            tree = queue.pop(0)
            label = f"tree {tree.host}/{tree.owner}/{tree.repo}@{tree.ref}"
            if not self._item(label, lambda t=tree: self._clone(t)):
                continue
            trees, files = self._references(self.cache.root / tree.tree)
            for found in sorted(trees - seen, key=str):
                seen.add(found)
                queue.append(found)
            manifests |= files
        for url in sorted(manifests):
            self._item(f"manifest {url}", lambda u=url: self._manifest(u))
        write_index(self.cache.root)
        return self.summary

    def _record(self, status: str, text: str) -> None:
        getattr(self.summary, {"warning": "warnings"}.get(status, status)).append(text)
        self.log(f"  {status:<8} {text}")

    def _item(self, label: str, action: Callable[[], bool]) -> bool:
        """Run one item: True when it is in the cache afterwards."""
        try:
            pulled = action()
        except PullError as err:
            self._record("failed", f"{label}: {err}")
            return False
        self._record("pulled" if pulled else "present", label)
        return True

    def _run(self, cmd: list[str], what: str) -> None:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if out.returncode != 0:
            message = _one_line(out.stderr or out.stdout)
            if _OFFLINE.search(message):
                raise Fatal(f"network unreachable ({what}: {message})")
            raise PullError(message)

    def _staging(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=".pull-", dir=self.cache.root))

    def _chart(self, source: ChartSource) -> bool:
        target = self.cache.chart(source.chart, source.version)
        facts = target / "facts.json"
        complete = self.cache.has_templates(source.chart, source.version)
        if complete and facts.is_file() and not self.force:
            return False
        if not complete or self.force:
            staging = self._staging()
            try:
                self._run(
                    [self.helm, "pull", *source.pull_args(), "--untar", "--untardir", str(staging)],
                    f"helm pull {source.chart}",
                )
                pulled = staging / source.chart
                if not (pulled / "Chart.yaml").is_file():
                    raise PullError(f"helm pull left no {source.chart}/Chart.yaml")
                version = str(_chart_yaml(pulled).get("version"))
                if version != source.version:
                    raise PullError(
                        f"Chart.yaml says version {version}, the catalogue pins {source.version}"
                    )
                _unpack_subcharts(pulled)
                _replace(pulled, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        facts.write_text(json.dumps(chart_facts(target, self.helm), indent=1) + "\n")
        return True

    def _clone(self, tree: RemoteBase) -> bool:
        target = self.cache.root / tree.tree
        if target.is_dir() and not self.force:
            return False
        staging = self._staging()
        try:
            repo = staging / tree.repo
            self._run(
                [
                    self.git,
                    "-c",
                    "advice.detachedHead=false",
                    "clone",
                    "--quiet",
                    "--depth",
                    "1",
                    "--branch",
                    tree.ref,
                    tree.clone_url,
                    str(repo),
                ],
                f"git clone {tree.clone_url}",
            )
            shutil.rmtree(repo / ".git", ignore_errors=True)
            _replace(repo, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return True

    def _manifest(self, url: str) -> bool:
        target = self.cache.manifest(url)
        if target.is_file() and not self.force:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        self.downloader(url, target)
        if not target.is_file():
            raise PullError(f"download left no {manifest_path(url)}")
        return True

    def _references(self, tree: Path) -> tuple[set[RemoteBase], set[str]]:
        """Remote bases and http(s) file resources in every kustomization file of a tree."""
        trees: set[RemoteBase] = set()
        files: set[str] = set()
        for path in sorted(tree.rglob("*")):
            if path.name not in KUSTOMIZATION_FILES or not path.is_file():
                continue
            try:
                doc = yaml.load(path.read_text(errors="replace"), Loader=_Loader) or {}
            except yaml.YAMLError as err:
                self._record("warning", f"{path.relative_to(self.cache.root)}: not YAML ({err})")
                continue
            if not isinstance(doc, dict):
                continue
            for key in ("resources", "components", "bases"):
                for entry in map(str, doc.get(key) or []):
                    remote = RemoteBase.parse(entry)
                    if remote is not None:
                        trees.add(_tree(remote))
                    elif "?ref=" in entry or entry.startswith("git::"):
                        where = path.relative_to(self.cache.root)
                        self._record("warning", f"{where}: remote base not followed: {entry}")
                    elif entry.startswith(("https://", "http://")):
                        files.add(entry)
        return trees, files


def _unpack_subcharts(chart_dir: Path) -> None:
    """Vendored `charts/*.tgz` become directories (the cache's layout; helm reads both)."""
    for archive in sorted((chart_dir / "charts").glob("*.tgz")):
        with tarfile.open(archive) as tar:
            tar.extractall(chart_dir / "charts", filter="data")
        archive.unlink()


def _replace(source: Path, target: Path) -> None:
    """Move a complete directory into place (the old one, if forced, goes first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.replace(source, target)


def write_index(root: Path) -> None:
    """`index.json`: what the cache holds (the shared cache's format, plus manifests)."""
    entries: list[dict[str, Any]] = []
    for tree in sorted(root.glob("kustomize/*/*/*/*")):
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        entries.append({"kind": "kustomize", "path": str(tree.relative_to(root)), "files": files})
    for chart in sorted(root.glob("charts/*/*")):
        facts = chart / "facts.json"
        render = json.loads(facts.read_text())["default_render"][:80] if facts.is_file() else None
        entries.append({"kind": "chart", "path": str(chart.relative_to(root)), "render": render})
    for manifest in sorted(p for p in root.glob("manifests/**/*") if p.is_file()):
        entries.append({"kind": "manifest", "path": str(manifest.relative_to(root))})
    (root / "index.json").write_text(json.dumps(entries, indent=1) + "\n")
