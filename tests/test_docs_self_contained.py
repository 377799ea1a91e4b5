"""The documentation is the repository's own: no citation of a reference document kept outside it."""
import re
from pathlib import Path

from benchmark.core.paths import REPO_ROOT

EXTERNAL = re.compile(r"\b(EVALUATION\.md|DATASETS_AND_PROTOCOLS\.md|(?<![\w/])METHODS\.md)")
SOURCES = ("benchmark", "datasets", "methods", "protocols", "tests", "leaderboard")


def test_no_citation_of_a_document_outside_the_repository():
    files = [REPO_ROOT / "README.md"] + [p for part in SOURCES for suffix in ("*.py", "*.md", "*.yaml")
                                         for p in (REPO_ROOT / part).rglob(suffix)
                                         if p != Path(__file__)]
    found = [f"{p.relative_to(REPO_ROOT)}:{n}" for p in files
             for n, line in enumerate(p.read_text().splitlines(), 1) if EXTERNAL.search(line)]
    assert not found, "cite the repository's own READMEs instead: " + ", ".join(found)


def test_the_pattern_catches_an_external_citation_and_spares_the_methods_readme():
    assert EXTERNAL.search("see METHODS.md §2") and EXTERNAL.search("(EVALUATION.md §6)")
    assert not EXTERNAL.search("see methods/README.md")
