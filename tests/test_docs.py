"""The docs cannot drift from the code: every config option, top-level key and module is documented,
the architecture's package diagram draws exactly the imports there are, its old-name table is `MOVED`,
every `group=option` the docs mention exists, every relative link resolves, and the README stays short."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest
import yaml

from astro.__main__ import COMMANDS
from astro.checkpoint.moved import MOVED

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

# The diagram in docs/architecture.md: one node per package of astro (its id is the package's name; the
# top-level modules below are one node, `foundation`) and one per entrypoint (its label is the file).
FOUNDATION = {"cli", "device", "paths", "errors"}
ENTRYPOINTS = {
    "train.py": "train.py",
    "evaluate.py": "evaluate.py",
    "predict.py": "predict.py",
    "space/app.py": "space/app.py",
    "python -m astro": "astro/__main__.py",
}
MERMAID = re.compile(r"```mermaid\n(.*?)```", re.S)
NODE = re.compile(r'(\w+)\["([^"]+)"\]')
EDGE = re.compile(r'^\s*(\w+)(?:\["[^"]*"\])?\s*-->\s*(\w+)(?:\["[^"]*"\])?\s*$')

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


def section(page: Path, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    text = page.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def package_of(module: str) -> str | None:
    """The diagram node a module belongs to: its top-level astro package, `foundation` for the top-level
    modules, None for the package root and `python -m astro` (drawn as an entrypoint)."""
    parts = module.split(".")
    if parts[0] != "astro" or len(parts) == 1 or parts[1] == "__main__":
        return None
    return "foundation" if parts[1] in FOUNDATION else parts[1]


def packages() -> set[str]:
    """Every node the diagram must have for the package: each subpackage of astro, and `foundation`."""
    found = {path.parent.name for path in (ROOT / "astro").glob("*/__init__.py")}
    return found | {"foundation"}


def package_imports() -> set[tuple[str, str]]:
    """(importer, imported) for every import between two of astro's packages, as import-linter sees it
    (grimp: every import statement, in functions and under TYPE_CHECKING too)."""
    graph = grimp.build_graph("astro", cache_dir=None)
    pairs = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            edge = (package_of(importer), package_of(imported))
            if None not in edge and edge[0] != edge[1]:
                pairs.add(edge)
    return pairs


def entrypoint_imports() -> set[tuple[str, str]]:
    """(entrypoint, package) for every astro package an entrypoint imports; `python -m astro` also
    imports each command's module (`COMMANDS`) when it runs it."""
    pairs = set()
    for label, file in ENTRYPOINTS.items():
        modules = []
        for node in ast.walk(ast.parse((ROOT / file).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
            elif isinstance(node, ast.Import):
                modules.extend(alias.name for alias in node.names)
        if file == "astro/__main__.py":
            modules.extend(module for module, _ in COMMANDS.values())
        pairs |= {(label, package) for module in modules if (package := package_of(module))}
    return pairs


def diagram() -> tuple[dict[str, str], set[tuple[str, str]]]:
    """The Mermaid block of docs/architecture.md: node labels by id, and its arrows (id, id)."""
    blocks = MERMAID.findall(ARCHITECTURE.read_text())
    assert len(blocks) == 1, "docs/architecture.md should have exactly one ```mermaid block"
    labels, edges = {}, set()
    for line in blocks[0].splitlines():
        labels.update(NODE.findall(line))
        if "-->" in line:
            match = EDGE.match(line)
            assert match, f"docs/architecture.md: write one arrow a --> b per line: {line.strip()!r}"
            edges.add(match.groups())
    return labels, edges


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


def test_package_diagram_draws_the_imports():
    labels, edges = diagram()
    entry = {node: labels[node] for node in labels if labels[node] in ENTRYPOINTS}
    assert sorted(entry.values()) == sorted(ENTRYPOINTS), f"entrypoint nodes: {sorted(entry.values())}"
    nodes = set(labels) - set(entry)
    assert nodes == packages(), (
        f"package nodes: missing {packages() - nodes}, not a package {nodes - packages()}"
    )
    drawn = {(a, b) for a, b in edges if a not in entry}
    actual = package_imports()
    assert not actual - drawn, f"imports between packages that the diagram lacks: {sorted(actual - drawn)}"
    assert not drawn - actual, f"arrows in the diagram that no import makes: {sorted(drawn - actual)}"
    drawn = {(entry[a], b) for a, b in edges if a in entry}
    actual = entrypoint_imports()
    assert not actual - drawn, f"entrypoint imports that the diagram lacks: {sorted(actual - drawn)}"
    assert not drawn - actual, f"entrypoint arrows that no import makes: {sorted(drawn - actual)}"


def test_package_imports_are_found():
    """The check above is only as good as the import graph it reads."""
    pairs = package_imports()
    assert {("training", "checkpoint"), ("serving", "evaluation"), ("data", "foundation")} <= pairs
    assert not any(b == "bench" for _, b in pairs)
    assert ("train.py", "training") in entrypoint_imports()


def test_old_module_table_is_moved():
    """The "Old module names" table is `MOVED`, pair by pair (old | new, two pairs a row)."""
    table = {}
    for line in section(ARCHITECTURE, "Old module names").splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            table.update(
                (old, new)
                for old, new in zip(cells[::2], cells[1::2], strict=False)
                if old.startswith("astro.")
            )
    assert table == MOVED, (
        f"docs/architecture.md's old-name table differs from astro.checkpoint.moved.MOVED: "
        f"missing {sorted(MOVED.keys() - table.keys())}, extra {sorted(table.keys() - MOVED.keys())}, "
        f"wrong {sorted(old for old in MOVED.keys() & table.keys() if MOVED[old] != table[old])}"
    )


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
    known["adapt"] |= {"bn"}  # evaluate.py's and predict.py's test-time `adapt` key (bn | none)
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
