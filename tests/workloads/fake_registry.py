"""An in-memory Model Registry REST server: the paths and bodies of the pinned OpenAPI
(kubeflow/model-registry v0.2.19-v0.3.7 api/openapi/model-registry.yaml) that
scenarios/workloads/registry.py uses, with their required fields enforced."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BASE = "/api/model_registry/v1alpha3"


class Store:
    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.models: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, list[dict[str, Any]]] = {}

    def new(self, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {**body, **extra, "id": str(next(self.ids))}


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            path = urlparse(self.path).path.removeprefix(BASE)
            if path == "/registered_models" and "name" in body:
                if any(m["name"] == body["name"] for m in store.models.values()):
                    return self._send(409, {"message": "exists"})
                m = store.new(body)
                store.models[m["id"]] = m
                return self._send(201, m)
            if m := re.fullmatch(r"/registered_models/(\w+)/versions", path):
                if m[1] not in store.models or body.get("registeredModelId") != m[1]:
                    return self._send(400, {"message": "bad registeredModelId"})
                v = store.new(body)
                store.versions[v["id"]] = v
                return self._send(201, v)
            if m := re.fullmatch(r"/model_versions/(\w+)/artifacts", path):
                if m[1] not in store.versions or body.get("artifactType") != "model-artifact":
                    return self._send(400, {"message": "bad artifact"})
                a = store.new(body)
                store.artifacts.setdefault(m[1], []).append(a)
                return self._send(201, a)
            self._send(404, {"message": path})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path, q = url.path.removeprefix(BASE), {k: v[0] for k, v in parse_qs(url.query).items()}
            if path == "/registered_model":
                found = [m for m in store.models.values() if m["name"] == q.get("name")]
            elif path == "/model_version":
                found = [v for v in store.versions.values()
                         if v["name"] == q.get("name")
                         and v["registeredModelId"] == q.get("parentResourceId")]  # fmt: skip
            elif m := re.fullmatch(r"/model_versions/(\w+)/artifacts", path):
                items = store.artifacts.get(m[1], [])
                return self._send(200, {"items": items, "size": len(items)})
            else:
                found = []
            self._send(200, found[0]) if found else self._send(404, {"message": "not found"})

    return Handler


@contextmanager
def serve() -> Iterator[tuple[str, Store]]:
    store = Store()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
