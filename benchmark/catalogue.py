"""What ``--list`` and ``--show`` print: registered names, whether their data and weights are present, and a
method's parameters with their paper defaults and profiles."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from benchmark.core.paths import COMMAND

STATUS_WIDTH = 9


def list_names(kind: str, registry, data_root: Path | None, cache_dir: Path) -> str:
    """One line per registered name: name, [present/missing] for datasets and backbones, a short description;
    broken entries (a malformed protocol file) with the reason. Missing things are explained below the list."""
    lines, notes = [f"{kind}:"], []
    for name in registry.names():
        obj = registry.get(name)
        status, note = "", None
        if kind == "datasets":
            status, note = dataset_status(obj, data_root)
        elif kind == "backbones":
            status, note = backbone_status(name, cache_dir)
        lines.append(f"  {name:<22} " + (f"{status:<{STATUS_WIDTH}} " if status else "") + describe_entry(obj))
        if note:
            notes.append(f"  {name}: {note}")
    lines += [f"  {name:<22} {'BROKEN':<{STATUS_WIDTH}} {reason}" for name, reason in sorted(registry.broken.items())]
    return "\n".join(lines + (["missing:", *notes] if notes else []))


def describe_entry(obj) -> str:
    from benchmark.protocol import Protocol
    if isinstance(obj, Protocol):
        return f"{obj.dataset}: {len(obj.known)} known / {len(obj.new)} new{' (default)' if obj.default else ''}"
    doc = (getattr(obj, "summary", "") or obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def dataset_status(loader, data_root: Path | None) -> tuple[str, str | None]:
    """(status, what is missing) of a dataset: its data-root folders, or the root of a declared dataset."""
    spec = getattr(loader, "__self__", None)  # a dataset declared in a protocol file
    if spec is not None:
        where = spec.file or spec.root
        return ("present", None) if where.exists() else ("missing", f"{where} does not exist")
    folders = getattr(loader, "data_folders", ())
    if not folders:
        return "built-in", None
    root = data_root or (Path(os.environ["GFACE_DATA_ROOT"]) if os.environ.get("GFACE_DATA_ROOT") else None)
    if root is None:
        return "missing", f"no data root: pass --data-root DIR (or set $GFACE_DATA_ROOT) holding {', '.join(folders)}/"
    absent = [str(Path(root).expanduser() / f) for f in folders if not (Path(root).expanduser() / f).is_dir()]
    return ("missing", f"{', '.join(absent)} not found (datasets/README.md)") if absent else ("present", None)


def backbone_status(name: str, cache_dir: Path) -> tuple[str, str | None]:
    from benchmark.core.weights import WEIGHT_FILES
    if name not in WEIGHT_FILES:
        return "built-in", None
    weights = WEIGHT_FILES.get(name)
    path = weights.path(cache_dir)
    return ("present", None) if path.is_file() else ("missing", f"{path}: {weights.advice()}")


def show_method(name: str) -> str:
    """A method's summary, its parameters with types and paper defaults, its profiles, ablation terms and search
    space."""
    from benchmark.core.registry import METHODS
    method = METHODS.get(name)
    lines = [f"{name}: {describe_entry(method)}", "", "parameters (paper defaults; override with "
             f"--set {name}.PARAM=VALUE):"]
    for field in dataclasses.fields(method.Params):
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
        lines.append(f"  {field.name:<24} {kind:<14} {_default(field)!r}")
    lines += ["", "profiles (applied on protocols marked with the profile, or with --profile):"]
    lines += [f"  {profile}: " + ", ".join(f"{k}={v!r}" for k, v in values.items())
              for profile, values in sorted(method.profiles.items())] or ["  (none)"]
    if method.ablation_terms:
        lines += ["", "ablation terms (--ablate sets each weight to 0 in turn):"]
        lines += [f"  {term}: {weight}" for term, weight in method.ablation_terms.items()]
    if method.search_space:
        lines += ["", "search space (--hparam-search; log-uniform around the value of the run without a search):"]
        lines += [f"  {param}: x{spread.factor:.3g} either way" for param, spread in method.search_space.items()]
    lines += ["", f"example: {COMMAND} --methods {name} --set {name}.{dataclasses.fields(method.Params)[0].name}="
                  f"VALUE --dry-run"] if dataclasses.fields(method.Params) else []
    return "\n".join(lines)


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return "(required)"
