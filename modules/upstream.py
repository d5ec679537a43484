"""The upstream cache: one resolver from every source the catalogue names to local files.

Layout (the same as `../shared/upstream`, see its README):
- `kustomize/<host>/<owner>/<repo>/<ref>/<path>`: git trees at a ref; a remote kustomize URL
  `[https://]<host>/<owner>/<repo>[.git][//]<path>?ref=<ref>` maps onto it;
- `charts/<chart>/<version>/`: a chart at its own version string (`Chart.yaml`, `values.yaml`,
  `values.schema.json`, `crds/`, `templates/` when pulled, and `facts.json`);
- `manifests/<host>/<path>`: release manifests by URL (the mirror's `files` layout too).

Kustomize trees reference other trees remotely (KFP -> argo-workflows, Trainer -> lws); so
that a build never touches the network, `local_tree` materialises a tree under
`.work/upstream/` with every remote reference rewritten to its cached sibling. With no cache
configured, sources resolve to the network as before.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlplatform.stackconfig import ROOT

WORK = ROOT / ".work" / "upstream"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# github.com/<owner>/<repo>[.git][//]<path>?ref=<ref>, optionally behind https:// or git::
_REMOTE = re.compile(
    r"^(?:git::)?(?:https?://)?(?P<host>github\.com)/(?P<owner>[\w.-]+)/(?P<repo>[\w-]+)"
    r"(?:\.git)?(?:/+(?P<path>[^?]*))?\?ref=(?P<ref>[\w./-]+)$"
)


@dataclass(frozen=True)
class RemoteBase:
    """A remote kustomize base: repository, ref and path inside it."""

    host: str
    owner: str
    repo: str
    ref: str
    path: str = ""

    @classmethod
    def parse(cls, url: str) -> RemoteBase | None:
        match = _REMOTE.match(url.strip())
        if match is None:
            return None
        parts = match.groupdict()
        return cls(
            parts["host"],
            parts["owner"],
            parts["repo"],
            parts["ref"],
            (parts["path"] or "").strip("/"),
        )

    @property
    def tree(self) -> str:
        """`kustomize/<host>/<owner>/<repo>/<ref>`: where the repository lives in a cache."""
        return f"kustomize/{self.host}/{self.owner}/{self.repo}/{self.ref}"

    @property
    def clone_url(self) -> str:
        return f"https://{self.host}/{self.owner}/{self.repo}.git"


def manifest_path(url: str) -> str:
    """`manifests/<host>/<path>` of a release-manifest URL."""
    return "manifests/" + url.split("://", 1)[-1]


@dataclass(frozen=True)
class Cache:
    """A local upstream cache (filled by `mlplatform upstream pull` or carried in)."""

    root: Path

    def chart(self, chart: str, version: str) -> Path:
        return self.root / "charts" / chart / version

    def has_chart(self, chart: str, version: str) -> bool:
        return (self.chart(chart, version) / "Chart.yaml").is_file()

    def has_templates(self, chart: str, version: str) -> bool:
        """Whether the cached chart can be rendered (data-only caches carry no templates)."""
        return (self.chart(chart, version) / "templates").is_dir()

    def manifest(self, url: str) -> Path:
        return self.root / manifest_path(url)

    def base(self, url: str) -> Path:
        """The local directory of a remote kustomize base, remote references resolved."""
        remote = RemoteBase.parse(url)
        if remote is None:
            raise ValueError(f"not a remote kustomize base: {url}")
        return self.local_tree(remote) / remote.path

    def local_tree(self, remote: RemoteBase) -> Path:
        """A build-ready copy of the cached tree (made once; remote references made local)."""
        source = self.root / remote.tree
        if not source.is_dir():
            raise FileNotFoundError(
                f"upstream cache {self.root} has no {remote.tree}: run "
                "`mlplatform upstream pull` on a connected machine"
            )
        target = WORK / _key(self.root) / remote.tree
        done = target / ".resolved"
        if done.is_file():
            return target
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, symlinks=True)
        for path in staging.rglob("*"):
            if path.name in KUSTOMIZATION_FILES:
                self._localise(path, staging, target)
        (staging / ".resolved").write_text(str(source))
        if target.exists():  # another process won the race: keep its copy
            shutil.rmtree(staging, ignore_errors=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, target)
        return target

    def _localise(self, kustomization: Path, staging: Path, target: Path) -> None:
        """Rewrite remote `resources`/`components` entries of one file to local paths."""
        text = kustomization.read_text()
        if "://" not in text and "?ref=" not in text:
            return
        doc = yaml.load(text, Loader=UpstreamLoader) or {}
        changed = False
        for key in ("resources", "components", "bases"):
            entries = doc.get(key) or []
            for i, entry in enumerate(entries):
                entry = str(entry)
                remote = RemoteBase.parse(entry)
                if remote is None and entry.startswith(("https://", "http://")):
                    if self.manifest(entry).is_file():
                        # A file outside the kustomization root is refused: copy it beside.
                        local = kustomization.parent / Path(manifest_path(entry)).name
                        shutil.copyfile(self.manifest(entry), local)
                        entries[i], changed = local.name, True
                    continue
                # Not cached: left remote, so only a build that uses it fails (naming it).
                if remote is None or not (self.root / remote.tree).is_dir():
                    continue
                # Relative to where the file will live once the staging tree is renamed.
                here = target / kustomization.parent.relative_to(staging)
                entries[i] = os.path.relpath(self.local_tree(remote) / remote.path, here)
                changed = True
        if changed:
            kustomization.write_text(yaml.safe_dump(doc, sort_keys=False))


class UpstreamLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe (libyaml when present) loading of upstream YAML: a bare `=` (YAML 1.1's value
    tag; kustomize's `delimiter: =`, prometheus-operator's CRD enums) is the string it is
    in YAML 1.2, as kustomize and the API server read it."""


UpstreamLoader.add_constructor("tag:yaml.org,2002:value", UpstreamLoader.construct_yaml_str)


def _key(root: Path) -> str:
    """A short stable directory name for one cache root."""
    import hashlib

    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]


def open_cache(path: str | Path | None) -> Cache | None:
    """The cache at `path` (relative paths: from the project root), or None when unset."""
    if not path:
        return None
    root = Path(path).expanduser()
    if not root.is_absolute():
        root = ROOT / root
    if not root.is_dir():
        raise FileNotFoundError(
            f"upstream cache {root} does not exist: run `mlplatform upstream pull --dir {root}`"
        )
    return Cache(root.resolve())


def default_dir() -> Path | None:
    """A cache present on this machine: $MLPLATFORM_UPSTREAM_CACHE, else `../shared/upstream`."""
    env = os.environ.get("MLPLATFORM_UPSTREAM_CACHE")
    candidate = Path(env) if env else ROOT.parent / "shared" / "upstream"
    # Resolved, as `open_cache` resolves it: paths derived from either compare equal.
    return candidate.resolve() if candidate.is_dir() else None
