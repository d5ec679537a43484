"""The rehearsal's Kueue steps against the real Kueue CRDs at the pinned versions: when a kind's
storage version changes between two releases, either the new CRD still serves the old version
(the storage migration rewrites the objects after the upgrade) or it dropped it (the objects
are saved and the CRD re-created around the upgrade); nothing else moves."""

from __future__ import annotations

import itertools
import json
from functools import cache

import pytest

from mlplatform import rehearsal, releases
from tests.crd_schema import PROJECTS, Catalogue
from tests.upstream import CACHE, needs_cache

KUEUE = next(p for p in PROJECTS if p.component == "kueue")
PAIRS = list(itertools.combinations(releases.available(), 2))  # (older, newer)


@cache
def catalogue() -> Catalogue:
    assert CACHE is not None
    return Catalogue(CACHE.root)


@cache
def versions(release: str) -> dict[str, tuple[str, set[str]]]:
    """Kind -> (storage version, versions in spec) of the Kueue CRDs `release` pins."""
    assert CACHE is not None
    tag = catalogue().tag_for(release, KUEUE)
    out = {}
    for path in sorted((CACHE.root / "crds" / f"{KUEUE.name}-{tag}").glob("kueue.x-k8s.io_*.json")):
        crd = json.loads(path.read_text())
        storage = next(v for v, d in crd["versions"].items() if d["storage"])
        out[crd["kind"]] = (storage, set(crd["versions"]))
    assert out, f"no kueue.x-k8s.io CRDs for {release} ({tag})"
    return out


@needs_cache
@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_storage_move_is_migrated_or_recreated(old: str, new: str) -> None:
    before, after = versions(old), versions(new)
    a, b = releases.load(old), releases.load(new)
    moved = {k for k in before.keys() & after.keys() if before[k][0] != after[k][0]}
    dropped = {k for k in moved if before[k][0] not in after[k][1]}
    recreated = {r.kind: r for r in rehearsal.recreated(a, b)}
    assert set(recreated) == dropped, f"{old}->{new}: kinds whose stored version is dropped"
    for kind, r in recreated.items():
        # restored at a version the new CRD serves (the API server stores it at its storage)
        assert r.from_version == before[kind][0] and r.to_version in after[kind][1], kind
    migration = rehearsal.kueue_migration(a, b)
    converted = moved - dropped
    if not converted:
        assert migration is None, f"{old}->{new}: no stored version to rewrite"
        return
    assert migration is not None, f"{old}->{new}: storage moves for {sorted(converted)}"
    assert {before[k][0] for k in converted} == {migration.from_version}
    assert {after[k][0] for k in converted} == {migration.to_version}
    migrated = {kind for _, kind in rehearsal.KUEUE_STORED_KINDS}
    assert converted <= migrated, (
        f"stored kinds the migration misses: {sorted(converted - migrated)}"
    )
