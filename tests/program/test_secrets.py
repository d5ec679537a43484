"""No password, key or token is ever registered outside a Pulumi secret."""

import re

from mlplatform.graph import Graph
from mlplatform.mockrun import STAND_INS as SENTINELS

SENSITIVE = re.compile(r"password|passwd|secret|token|private|credential|access_?key|cookie", re.I)
# Keys whose values name a secret or a key rather than holding one.
REFERENCE = re.compile(
    r"^existing|(Name|Ref|Key|Keys|Secret|File|Path)$|^secretName$|^credentialName$"
)


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _covered(path: str, secret_paths: set[str]) -> bool:
    return any(
        path == s or path.startswith(s + ".") or path.startswith(s + "[") for s in secret_paths
    )


def leaks(graph: Graph) -> list[str]:
    found = []
    for r in graph.resources:
        for path, value in _walk(r.inputs):
            if _covered(path, r.secret_paths) or not isinstance(value, str):
                continue
            leaf = re.split(r"[.\[]", path)[-1]
            if any(s in value for s in SENTINELS):
                found.append(f"{r.type} {r.name}: {path} holds a secret value in plaintext")
            elif value and SENSITIVE.search(leaf) and not REFERENCE.search(leaf):
                found.append(f"{r.type} {r.name}: {path} looks sensitive but is not a secret")
    return found


def test_no_plaintext_secrets(program, env_release):
    assert leaks(program(*env_release)) == []


def test_the_walk_catches_a_plaintext_password():
    from mlplatform.graph import Resource

    g = Graph(
        [
            Resource(
                "u",
                "kubernetes:yaml/v2:ConfigGroup",
                "x",
                {
                    "objs": [
                        {"kind": "Secret", "stringData": {"password": "hunter2"}},
                        {"kind": "ConfigMap", "data": {"url": "mock-password-leaked"}},
                    ]
                },
                "",
                [],
            )
        ]
    )
    assert leaks(g) == [
        "kubernetes:yaml/v2:ConfigGroup x: objs[0].stringData.password looks sensitive but is not a secret",
        "kubernetes:yaml/v2:ConfigGroup x: objs[1].data.url holds a secret value in plaintext",
    ]
