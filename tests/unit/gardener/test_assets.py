"""Charts and Terraform modules are found in the source tree, and every folder of them ships in a wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gardener.assets import charts_dir, terraform_dir

REPO = Path(__file__).resolve().parents[3]


def test_source_tree_assets_are_found() -> None:
    assert charts_dir() == REPO / "charts"
    assert (charts_dir() / "etcd" / "statefulset.yaml.j2").is_file()
    assert (terraform_dir() / "local" / "main.tf").is_file()


def test_every_asset_folder_is_listed_as_data_files() -> None:
    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    listed = {target.removeprefix("share/gardener-py/"): sources for target, sources in data_files.items()}
    folders = {
        str(f.parent.relative_to(REPO))
        for root in ("charts", "terraform")
        for f in (REPO / root).rglob("*")
        if f.is_file()
    }
    assert folders <= set(listed), f"folders missing from [tool.setuptools.data-files]: {sorted(folders - set(listed))}"
    for folder, sources in listed.items():
        assert sources == [f"{folder}/*.*"], folder  # files only: a folder in a data-files list breaks the build
