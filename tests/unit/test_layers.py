"""The import rules of the house (shared STYLE.md §1): imports point down, never up or sideways."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Layers from the bottom up; a module may import its own layer's shared helpers only where listed.
BOTTOM = {"processors.schemas", "processors.settings"}
NLP = "processors.nlp"
STAGES = {"processors.extract", "processors.stories", "processors.index", "processors.alerts"}
FAUST_MODULES = {"processors.app", "processors.topics", "processors.tables", "processors.agents"}


def _modules():
    for path in sorted((ROOT / "processors").rglob("*.py")) + sorted((ROOT / "ingest").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, path


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _within(imported, modules):
    return any(imported == m or imported.startswith(m + ".") for m in modules)


def _violations(name, imported):
    top = imported.split(".")[0]
    if top == "faust" and name not in FAUST_MODULES | {"processors.compat", "processors.delivery", "processors.worker"}:
        yield f"{name} imports faust (only app/topics/tables/agents and the faust fixes may)"
    if top == "kafka" and name != "ingest.produce" and not name.startswith("processors.stack"):
        yield f"{name} imports kafka-python (only ingest/produce.py may)"
    if name in BOTTOM and imported.startswith("processors.") and not _within(imported, BOTTOM):
        yield f"{name} is in the bottom layer but imports {imported}"
    if name.startswith(NLP) and imported.startswith("processors.") and not (
            imported.startswith(NLP) or _within(imported, BOTTOM)):
        yield f"{name} (nlp) imports {imported}"
    if name.startswith(NLP) and top in ("faust", "kafka", "elasticsearch"):
        yield f"{name} (nlp) imports {top}"
    if name in STAGES and _within(imported, STAGES - {name}):
        yield f"stage {name} imports another stage {imported}"
    if name in STAGES and _within(imported, FAUST_MODULES | {"processors.cli"}):
        yield f"stage {name} imports the top layer {imported}"
    # ingest sits beside the top layer: records, settings and language detection only
    # (its __main__ is wiring and may hand over to the CLI).
    allowed = BOTTOM | {"processors.nlp.language"} | ({"processors.cli"} if name == "ingest.__main__" else set())
    if name.startswith("ingest") and imported.startswith("processors.") and not _within(imported, allowed):
        yield f"{name} (ingest) imports {imported}"


@pytest.mark.parametrize(("name", "path"), list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_layers_imports_point_down(name, path):
    problems = [p for imported in _imports(path) for p in _violations(name, imported)]
    assert not problems, problems
