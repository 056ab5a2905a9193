"""The docs cannot drift from the code: every config option, top-level key and module is documented,
every `group=option` the docs mention exists, every relative link resolves, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
ARCHITECTURE = DOCS / "architecture.md"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# Docs pages that other branches bring; linked already, allowed to be missing until they are merged.
# The lead empties this set after merging them (test_pending_pages_are_still_missing says when).
PENDING: set[str] = set()

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
OVERRIDE = re.compile(r"(?<![\w./+~-])([a-z_]+(?:/[a-z_]+)?)=([\w,]+)")


def options() -> list[tuple[str, str]]:
    """(group, option) for every option file: conf/<group>/<option>.yaml, `_` bases excluded."""
    return sorted(
        (path.parent.relative_to(CONF).as_posix(), path.stem)
        for path in CONF.rglob("*.yaml")
        if path.parent != CONF and not path.name.startswith("_")
    )


def table_rows(path: Path) -> list[list[str]]:
    """The cells of every Markdown table row in a page, backticks stripped."""
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


def top_level_keys(name: str) -> list[str]:
    tree = yaml.safe_load((CONF / name).read_text())
    return [key for key in tree if key not in ("defaults", "hydra")]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def test_options_are_discovered():
    found = set(options())
    assert {("model", "small_resnet"), ("hydra/launcher", "slurm"), ("experiment", "run1")} <= found
    assert ("data", "_datamodule") not in found


@pytest.mark.parametrize(("group", "option"), options())
def test_every_option_has_a_row(group: str, option: str):
    rows = {tuple(row[:2]) for row in table_rows(CONFIGURATION)}
    assert (group, option) in rows, f"docs/configuration.md has no table row | `{group}` | `{option}` |"


@pytest.mark.parametrize("config", ["train.yaml", "evaluate.yaml"])
def test_every_top_level_key_has_a_row(config: str):
    documented = {row[0] for row in table_rows(CONFIGURATION)}
    missing = [key for key in top_level_keys(config) if key not in documented]
    assert not missing, f"conf/{config} keys without a row in docs/configuration.md: {missing}"


def test_every_module_is_listed_and_every_listed_module_exists():
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "astro").rglob("*.py")}
    listed = set(re.findall(r"`(astro/[\w/]+\.py)`", ARCHITECTURE.read_text()))
    assert not modules - listed, f"modules missing from docs/architecture.md: {sorted(modules - listed)}"
    stale = sorted(listed - modules)
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_readme_is_short():
    lines = len(README.read_text().splitlines())
    assert lines <= 220, f"README.md has {lines} lines; move the detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        name = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else str(file)
        if not file.exists():
            if name not in PENDING:
                broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert not broken, f"{page.name}: links to missing files or headings: {broken}"


def test_pending_pages_are_still_missing():
    arrived = sorted(name for name in PENDING if (ROOT / name).exists())
    assert not arrived, f"{arrived} exist now: remove them from PENDING in tests/test_docs.py"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_group_overrides_name_existing_options(page: Path):
    """`data=gz1_sdss`, `-m experiment=run1,run2`: every group=option the docs show must exist."""
    known = {}
    for group, option in options():
        known.setdefault(group, set()).add(option)
    wrong = [
        f"{group}={value}"
        for group, value in OVERRIDE.findall(page.read_text())
        if group in known and not set(value.split(",")) <= known[group] | {"null"}
    ]
    assert not wrong, f"{page.name} names options that do not exist: {wrong}"


def test_space_front_matter():
    """The Space reads its README's front matter; deploying copies space/README.md to the Space's root."""
    text = (ROOT / "space" / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio"
    assert (ROOT / meta["app_file"]).is_file()
