"""The documentation points at files that exist, and its file lists name exactly what their folder holds.

Two checks over every ``*.md`` file of the repository, read at run time:

- **References.** A relative link ``[text](path)`` and an inline backquoted path that looks like a repository file
  (it contains ``/``, ends in a file suffix such as ``.py`` or ``.md``, and its first part names an entry of the
  repository root or of the document's folder) must exist, relative to the document's folder or to the root. Fenced
  code blocks are not read: they hold commands and example layouts, not references.
- **File lists.** A line ``<!-- files: FOLDER/ -->`` declares that the markdown list or table right after it names
  the folder's entries: in a table every backquoted name of the first cell, in a list every backquoted name on the
  item's first line before its first ":" (a name may carry the ``FOLDER/`` prefix; a sub-folder ends in ``/``). Together they must
  name exactly the folder's files and sub-folders, ignoring ``__init__.py``, ``__pycache__``, hidden names,
  ``*.egg-info`` and ``*.pyc``.
"""
from __future__ import annotations

import re
from pathlib import Path

from benchmark.core.paths import REPO_ROOT

SKIPPED_DIRS = {"runs", "node_modules"}  # and every hidden folder (.venv, .cache, .git, ...)
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".csv", ".png", ".tex", ".json", ".txt", ".toml", ".pt", ".cfg")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
FILES_MARKER = re.compile(r"<!--\s*files:\s*(\S+?)/?\s*-->")
NOT_LISTED = {"__init__.py", "__pycache__"}


def markdown_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if not any(
        part in SKIPPED_DIRS or part.startswith(".") for part in p.relative_to(root).parts[:-1]))


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def looks_like_repository_path(token: str, doc: Path, root: Path) -> bool:
    if "/" not in token or not token.endswith(FILE_SUFFIXES) or token.startswith(("/", "~", "http", "./.", "$")):
        return False
    if re.search(r"[\s*?<>{}\[\]|$…]|\.\.\.", token):
        return False
    first = token.split("/")[0]
    return first not in SKIPPED_DIRS and not first.startswith(".") and (
        (root / first).exists() or (doc.parent / first).exists())


def exists(target: str, doc: Path, root: Path) -> bool:
    return (doc.parent / target).exists() or (root / target).exists()


def broken_references(doc: Path, root: Path) -> list[str]:
    """``file:line: reference`` for every link or backquoted repository path in ``doc`` that resolves to nothing."""
    found = []
    for number, line in prose_lines(doc.read_text(encoding="utf-8")):
        links = [target.split("#")[0] for target in LINK.findall(line)
                 if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]
        paths = [token for token in INLINE_CODE.findall(line) if looks_like_repository_path(token, doc, root)]
        found += [f"{doc.relative_to(root)}:{number}: {target}" for target in links + paths
                  if target and not exists(target, doc, root)]
    return found


def listed_names(block: list[str], folder: str) -> set[str]:
    """The names a list or table right after a files marker gives (see the module docstring)."""
    names: set[str] = set()
    for line in block:
        stripped = line.strip()
        if stripped.startswith("|"):
            if re.fullmatch(r"\|[\s:|-]+\|?", stripped):
                continue
            lead = stripped.strip("|").split("|")[0]
        elif re.match(r"([-*+]|\d+\.)\s", stripped):
            lead = re.sub(r"^([-*+]|\d+\.)\s+", "", stripped).split(":")[0]
        else:
            continue  # a list item's continuation line
        for token in INLINE_CODE.findall(lead):
            name = token.removeprefix(folder + "/")
            names.add(name.rstrip("/") + ("/" if name.endswith("/") else ""))
    return names


def present_names(folder: Path) -> set[str]:
    return {p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
            if p.name not in NOT_LISTED and not p.name.startswith(".")
            and not p.name.endswith((".egg-info", ".pyc"))}


def file_list_mismatches(doc: Path, root: Path) -> list[str]:
    """``file:line: ...`` for every files marker in ``doc`` whose list does not name exactly its folder's entries."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        marker = FILES_MARKER.search(line)
        if not marker:
            continue
        folder, where = marker.group(1).rstrip("/"), f"{doc.relative_to(root)}:{index + 1}"
        if not (root / folder).is_dir():
            found.append(f"{where}: files marker names {folder}/, which is not a folder of the repository")
            continue
        start = index + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        block = []
        for following in lines[start:]:
            if not following.strip():
                break
            block.append(following)
        listed, present = listed_names(block, folder), present_names(root / folder)
        if not listed:
            found.append(f"{where}: no list or table follows the files marker for {folder}/")
        elif listed != present:
            missing, extra = sorted(present - listed), sorted(listed - present)
            found.append(f"{where}: the list of {folder}/ " + "; ".join(
                part for part in (f"lacks {', '.join(missing)}" if missing else "",
                                  f"names {', '.join(extra)}, not in the folder" if extra else "") if part))
    return found


def test_every_relative_link_and_repository_path_in_the_docs_exists():
    found = [problem for doc in markdown_files(REPO_ROOT) for problem in broken_references(doc, REPO_ROOT)]
    assert not found, "references to files that do not exist:\n" + "\n".join(found)


def test_every_declared_file_list_names_exactly_its_folder():
    found = [problem for doc in markdown_files(REPO_ROOT) for problem in file_list_mismatches(doc, REPO_ROOT)]
    assert not found, "file lists that do not match their folder:\n" + "\n".join(found)


def test_the_checks_flag_a_broken_link_a_missing_path_and_an_incomplete_file_list(tmp_path):
    (tmp_path / "pkg").mkdir()
    for name in ("a.py", "b.py", "__init__.py"):
        (tmp_path / "pkg" / name).write_text("")
    (tmp_path / "pkg" / "data").mkdir()
    doc = tmp_path / "pkg" / "README.md"
    doc.write_text("See [a](a.py), [gone](gone.md), [web](https://example.org/x.md) and [top](#files).\n"
                   "Code: `pkg/a.py`, `b.py`, `pkg/missing.py`, `other_repo/src/x.py`, `<cache>/w/x.pt`.\n"
                   "```\nignored `pkg/nothing.py` [x](nothing.md)\n```\n"
                   "<!-- files: pkg/ -->\n| File | What |\n|---|---|\n| `a.py` | a |\n| `pkg/README.md` | docs |\n\n"
                   "<!-- files: pkg -->\n- `a.py`, `b.py`: code\n- `README.md`: docs\n- `data/`: data\n"
                   "- `ghost.py`: nothing, continued\n  on `pkg/b.py`: not a name\n")
    assert broken_references(doc, tmp_path) == ["pkg/README.md:1: gone.md", "pkg/README.md:2: pkg/missing.py"]
    assert file_list_mismatches(doc, tmp_path) == [
        "pkg/README.md:6: the list of pkg/ lacks b.py, data/",
        "pkg/README.md:12: the list of pkg/ names ghost.py, not in the folder"]
    (tmp_path / "pkg" / "ghost.py").write_text("")
    doc.write_text("<!-- files: pkg/ -->\n- `a.py`, `b.py`, `ghost.py`: code\n- `README.md`, `data/`\n")
    assert file_list_mismatches(doc, tmp_path) == []
