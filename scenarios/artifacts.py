"""Failure evidence, collected before cleanup: pod logs, events, describe-like dumps of
every object the scenario created, and the logs of the controllers it exercised.

Collection never raises: what cannot be read is recorded in `errors.txt` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from mlplatform.scenarios.client import Cluster, Obj, ref

LOG_TAIL = 2000
CONTROLLER_LOG_TAIL = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Controller:
    """Where a platform controller runs (its pods' logs are collected on failure)."""

    component: str
    namespace: str
    labels: dict[str, str]


def _safe(name: str) -> str:
    return name.replace("/", "_").replace(":", "_")


class Collector:
    def __init__(self, cluster: Cluster, out_dir: Path) -> None:
        self.cluster = cluster
        self.out = out_dir
        self.files: list[Path] = []
        self.errors: list[str] = []

    def _write(self, rel: str, text: str) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.files.append(path)

    def _try(self, what: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except Exception as e:  # evidence collection must not mask the real failure
            self.errors.append(f"{what}: {type(e).__name__}: {e}")
            return None

    def pods(
        self,
        namespace: str,
        prefix: str = "",
        labels: dict[str, str] | None = None,
        tail: int = LOG_TAIL,
    ) -> None:
        pods = (
            self._try(
                f"list pods in {namespace}",
                lambda: self.cluster.list("v1", "Pod", namespace, labels),
            )
            or []
        )
        for pod in pods:
            name = pod["metadata"]["name"]
            spec = pod.get("spec", {})
            for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                text = self._try(
                    f"logs {namespace}/{name}/{c['name']}",
                    lambda n=name, c=c["name"]: self.cluster.logs(namespace, n, c, tail),
                )
                if text is not None:
                    self._write(f"{prefix}logs/{namespace}/{name}.{c['name']}.log", str(text))

    def events(self, namespace: str) -> None:
        events = (
            self._try(f"events in {namespace}", lambda: self.cluster.list("v1", "Event", namespace))
            or []
        )
        rows = sorted((e.get("lastTimestamp") or e.get("eventTime") or "", e) for e in events)
        lines = [
            f"{ts} {e.get('type', '')} {e.get('reason', '')} "
            f"{e.get('involvedObject', {}).get('kind', '')}/"
            f"{e.get('involvedObject', {}).get('name', '')}: {e.get('message', '')}"
            for ts, e in rows
        ]
        self._write(f"events/{namespace}.txt", "\n".join(lines) + "\n")

    def describe(self, objects: Iterable[Obj]) -> None:
        """The live object (spec and status) of everything the scenario created."""
        for obj in objects:
            md = obj.get("metadata", {})
            live = self._try(
                f"get {ref(obj)}",
                lambda o=obj, md=md: self.cluster.get(
                    o["apiVersion"], o["kind"], md["name"], md.get("namespace")
                ),
            )
            text = yaml.safe_dump(live, sort_keys=False) if live else "(not found)\n"
            self._write(f"describe/{_safe(ref(obj))}.yaml", text)

    def controllers(self, controllers: Iterable[Controller]) -> None:
        for c in controllers:
            self.pods(c.namespace, "controllers/", c.labels, CONTROLLER_LOG_TAIL)

    def finish(self) -> list[str]:
        if self.errors:
            self._write("errors.txt", "\n".join(self.errors) + "\n")
        return [str(p) for p in self.files]


def collect(
    cluster: Cluster,
    out_dir: Path,
    namespaces: Iterable[str],
    objects: Iterable[Obj],
    controllers: Iterable[Controller],
) -> list[str]:
    """Everything above for one failed scenario; returns the files written."""
    c = Collector(cluster, out_dir)
    for ns in namespaces:
        c.pods(ns)
        c.events(ns)
    c.describe(objects)
    c.controllers(controllers)
    return c.finish()
