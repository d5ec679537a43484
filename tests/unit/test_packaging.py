"""Packaging: one import namespace, `mlplatform.*`, mapped over the repository layout."""

import subprocess
import sys
import tomllib

from mlplatform.stackconfig import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_directory_is_listed_under_mlplatform():
    mapping: dict[str, str] = SETUPTOOLS["package-dir"]
    found = set()
    for name, directory in mapping.items():
        for init in (ROOT / directory).rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(ROOT / directory).parts]))
    assert sorted(SETUPTOOLS["packages"]) == sorted(found)
    assert all(p.split(".")[0] == "mlplatform" for p in found)


def test_site_packages_holds_no_generic_top_level_names(tmp_path):
    """Outside the repository only `mlplatform` imports: no `modules`, `policies`, `scenarios`."""
    probe = (
        "import importlib.util as u; "
        "print([n for n in ('mlplatform', 'modules', 'policies', 'scenarios') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "['mlplatform']"
