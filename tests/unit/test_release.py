"""`mlplatform release list|show`: every release and every component the catalogue pins."""

import json

import yaml

from mlplatform import catalogue, releases
from mlplatform.cli import release as cli
from tests.unit.cli_only import invoke


def test_list_names_every_release_with_kubeflow_and_kubernetes(capsys):
    assert invoke(["release", "list", "-o", "json"], cli) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["release"] for r in listed] == releases.available()
    for r in listed:
        pinned = releases.load(r["release"])
        assert r["kubeflow"] == pinned.kubeflow
        assert r["kubernetes"] == {"min": pinned.kubernetes.min, "max": pinned.kubernetes.max}


def test_list_table(capsys):
    assert invoke(["release", "list"], cli) == 0
    out = capsys.readouterr().out
    for name in releases.available():
        r = releases.load(name)
        assert f"{r.kubernetes.min} - {r.kubernetes.max}" in out and r.kubeflow in out


def test_show_every_component_and_its_source():
    for name in releases.available():
        shown = catalogue.detail(name)
        pinned = releases.load(name)
        assert set(shown["components"]) == set(pinned.components)
        for cname, c in shown["components"].items():
            p = pinned.component(cname)
            assert c["version"] == p.version and c["apis"] == p.apis
            if p.source.kustomize:
                assert c["sourceText"].endswith(
                    f"{p.source.kustomize.url}@{p.source.kustomize.ref}"
                )
            if p.source.manifest:
                assert all(url in c["sourceText"] for url in p.source.manifest.urls)
            if p.source.helm:
                assert p.source.helm.chart in c["sourceText"]


def test_show_table_prints_notes_and_apis_unclipped(capsys):
    assert invoke(["release", "show", "1.11"], cli) == 0
    out = capsys.readouterr().out
    kfp = releases.load("1.11").component("kfp")
    assert " ".join(kfp.notes.split()) in out  # type: ignore[union-attr]
    assert f"{kfp.source.kustomize.url}@v1.11.0" in out  # type: ignore[union-attr]
    assert "kueue=kueue.x-k8s.io/v1beta1" in out


def test_show_yaml_round_trips(capsys):
    assert invoke(["release", "show", "26.03", "-o", "yaml"], cli) == 0
    assert yaml.safe_load(capsys.readouterr().out) == catalogue.detail("26.03")


def test_unknown_release_is_one_line_exit_2(capsys):
    assert invoke(["release", "show", "9.9"], cli) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'9.9' is not a release" in err


def test_every_option_has_help(capsys):
    assert invoke(["release", "show", "--help"], cli) == 0
    out = capsys.readouterr().out
    assert "table for people" in out and "a platform release" in out
