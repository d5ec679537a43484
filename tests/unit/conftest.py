"""Fixtures shared by the unit tests."""

import shutil

import pytest

from mlplatform.cli import tenant as cli
from mlplatform.stackconfig import stack_file


@pytest.fixture
def dev(tmp_path, monkeypatch):
    """A private copy of the dev stack file that the tenant commands edit."""
    path = tmp_path / "Pulumi.dev.yaml"
    shutil.copy(stack_file("dev"), path)
    monkeypatch.setattr(cli, "stack_file", lambda env: path)
    return path
