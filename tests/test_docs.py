"""The README's Layout names every module of the package, so that a new one is not left out."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert match, "README.md has no Layout section"
    return match.group(1)


def test_the_readme_layout_names_every_module_of_the_package() -> None:
    named = set(re.findall(r"`([\w/]+\.py)`", layout_section()))
    modules = {p.name for p in (ROOT / "qjm_widget").glob("*.py") if p.name != "__init__.py"}
    # backends/ is described by what it holds; the Layout names only some of its modules.
    backends = {p.name for p in (ROOT / "qjm_widget" / "backends").glob("*.py")}
    assert modules - named == set(), "modules the README's Layout does not name"
    assert named - modules - backends == set(), "the Layout names modules the package lacks"
