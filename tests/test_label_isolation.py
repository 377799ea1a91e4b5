"""Label isolation: a probe method that tries every route to labels it must not see scores at chance.

Routes tried: a file behind ``task.images`` (a memory map's file name, once next to the dataset's ``labels.npy``), a
label file anywhere under the method's cache, run or view-bank folder, the row order (datasets store e.g. basic
before compound rows, so a position-only score separated old from new perfectly before runs got their own order),
and everything reachable from the task through attributes, closures and bound methods (``reachable``): no
environment, dataset or split, no hidden label array, and no file path with a label file beside it. A function's
``__globals__`` (its module's namespace) is not walked: README.md, "Label isolation". The same holds for the
per-image attributes the scorer side knows (person, AU intensities, class before annotation noise;
``benchmark/core/attributes.py``; a declared dataset's, tests/test_declared_attributes.py): no route from the task
reaches them, and the probe's clusters agree with them no better than chance.
"""
import dataclasses
import functools
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from benchmark import runner
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.knownness import auroc
from benchmark.cluster_factors import factor_rows
from benchmark.core.attributes import SampleAttributes
from benchmark.core.registry import ATTRIBUTES, DATASETS, PROTOCOLS
from benchmark.core.scorer import score
from benchmark.isolation import isolated_task
from benchmark.method import Method, Predictions
from benchmark.plan import expand
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import VALIDATION
from benchmark.runner import Environment, in_split_order
from benchmark.scoring import score_predictions
from benchmark.splits import Split, materialise
from datasets.dataset_spec import DatasetSpec
from tests.toy_plugins import ToyParams, toy_backbone

load_plugins()  # the shipped protocols, for parametrisation
EMBEDDED = [name for name in PROTOCOLS.names() if PROTOCOLS.get(name).dataset.startswith("synthface-")]


class LabelProbe(Method):
    """Tries every route to hidden labels; predicts clusters and knownness from row positions alone."""

    Params = ToyParams
    found: list[str] = []

    def run(self, task) -> Predictions:
        LabelProbe.found = self.routes(task)
        n = len(task.images)
        k = task.n_classes or task.n_known + 1  # a K-unknown protocol gives no K
        clusters = {s: (task.indices(s) * k // n).astype(np.int64) for s in task.prediction_sets}
        knownness = {s: -task.indices(s).astype(np.float64) for s in task.prediction_sets}
        return Predictions(clusters, knownness, "row_position")

    @staticmethod
    def routes(task) -> list[str]:
        found = []
        for name in ("filename", "base", "_mmap"):
            if getattr(task.images, name, None) is not None:
                found.append(f"task.images.{name}")
        sample = task.images[np.arange(2)]
        if type(sample) is not np.ndarray or getattr(sample, "filename", None) or sample.base is not None:
            found.append("a read of task.images is a view of a file")
        for folder in (task.cache_dir, task.work_dir, task.view_bank_dir):
            found += [str(p) for p in Path(folder).rglob("*") if "label" in p.name.lower()]
        return found


@pytest.fixture(scope="module")
def synthface(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    names = sorted({PROTOCOLS.get(protocol_id).dataset for protocol_id in EMBEDDED})
    return cache, {name: DATASETS.get(name)(None, cache) for name in names}


@pytest.fixture(scope="module")
def attributes(synthface):
    cache, datasets = synthface
    return {name: ATTRIBUTES.get(name)(None, cache, data) for name, data in datasets.items()}


@pytest.mark.parametrize("protocol_id", EMBEDDED)
def test_a_probe_method_scores_at_chance_on_every_embedded_protocol(synthface, attributes, tmp_path,
                                                                    protocol_id):
    cache, datasets = synthface
    protocol = PROTOCOLS.get(protocol_id)
    data, known = datasets[protocol.dataset], attributes[protocol.dataset]
    split = materialise(protocol, data, protocol.split_seeds[0], known)
    images_folder = Path(data.images.filename).parent
    assert (images_folder.parent / "labels.npy").exists() and label_files(images_folder) == []
    task, order = isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=7,
                                device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)
    predictions = in_split_order(LabelProbe(ToyParams()).run(task), order, split)
    assert LabelProbe.found == []
    results = score_predictions(predictions, split, protocol.n_known)
    for eval_set, values in results.items():
        if eval_set != VALIDATION:  # held-out labelled images are all known: no AUROC
            assert abs(values["auroc"] - 0.5) < 0.06, (eval_set, values["auroc"])
        y = split.labels(eval_set)
        shuffled = np.random.default_rng(0).permutation(split.pooled(predictions.clusters, eval_set))
        chance = score(y, shuffled, protocol.n_known, list(protocol.class_names)).all
        assert abs(values["all"] - chance) < 0.05, (eval_set, values["all"], chance)
    assert_chance_on_attributes(predictions.clusters["unlabelled_train"], split, known)


def assert_chance_on_attributes(clusters: np.ndarray, split: Split, known: SampleAttributes) -> None:
    """The probe's D_U clusters agree with the person, the true class and the intensity bin at chance (ARI, which
    is adjusted for chance, near 0)."""
    rows = split.unlabelled_idx
    agreement = factor_rows(clusters, split.unlabelled_y, {k: v[rows] for k, v in known.factors.items()},
                            known.true_labels[rows], known.intensity[rows])
    aris = {r["factor"]: r["value"] for r in agreement if r["metric"] == "ari"}
    assert {"identity", "true_expression"} <= set(aris)  # an open class of neutral faces has no intensity
    assert all(abs(value) < 0.03 for value in aris.values()), aris


def test_the_dataset_order_alone_would_reveal_old_and_new(synthface):
    """The control: without the per-run order a position-only score separates compound (new) from basic rows."""
    _, datasets = synthface
    protocol = PROTOCOLS.get("synthface-compound")
    split = materialise(protocol, datasets["synthface-compound"], 0)
    position = -split.unlabelled_idx.astype(np.float64)
    assert auroc(split.unlabelled_y < protocol.n_known, position) > 0.95


def test_each_run_has_its_own_order_and_predictions_map_back(synthface, tmp_path):
    cache, datasets = synthface
    protocol = PROTOCOLS.get("synthface-basic")
    data = datasets["synthface-basic"]
    split = materialise(protocol, data, 0)
    orders = [isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=seed,
                            device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)[1] for seed in (1, 2)]
    assert not np.array_equal(orders[0].rows, orders[1].rows)
    task, order = isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=1,
                                device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)
    first = task.unlabelled_idx[:5]
    np.testing.assert_array_equal(task.images[first], data.images[order.rows[first]])
    # an oracle that returns each task row's true class, in task order, scores 1.0 once mapped back
    truth = np.empty(len(order.rows), dtype=np.int64)
    truth[order.positions(split.unlabelled_idx)] = split.unlabelled_y
    truth[order.positions(split.test_idx)] = split.test_y
    oracle = Predictions({s: truth[task.indices(s)] for s in task.prediction_sets})
    results = score_predictions(in_split_order(oracle, order, split), split, protocol.n_known)
    assert all(values["all"] == 1.0 for values in results.values())
    assert sorted(task.labelled_y.tolist()) == sorted(split.labelled_y.tolist())
    np.testing.assert_array_equal(task.labelled_y, truth_labelled(order, split)[task.labelled_idx])


def truth_labelled(order, split) -> np.ndarray:
    labels = np.full(len(order.rows), -1, dtype=np.int64)
    labels[order.positions(split.labelled_idx)] = split.labelled_y
    return labels


def test_the_method_cache_holds_no_labels(synthface, tmp_path):
    cache, datasets = synthface
    protocol = PROTOCOLS.get("synthface-basic")
    split = materialise(protocol, datasets["synthface-basic"], 0)
    task, _ = isolated_task(protocol.id, datasets["synthface-basic"], split, toy_backbone(cache), method="probe",
                            seed=3, device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)
    assert task.cache_dir != cache and cache in task.cache_dir.parents
    assert not any("label" in p.name for p in task.cache_dir.rglob("*"))
    assert not dataclasses.is_dataclass(task.images)


FORBIDDEN_MODULES = ("datasets", "benchmark.protocol", "benchmark.splits", "benchmark.runner", "benchmark.scoring",
                     "benchmark.isolation", "benchmark.preflight", "benchmark.core.data", "benchmark.core.paths", "gc",
                     "inspect", "benchmark.core.attributes", "benchmark.reporting.run_diagnostics", "benchmark.cluster_factors")
FORBIDDEN_NAMES = {"DATASETS", "PROTOCOLS", "ATTRIBUTES"}


def test_no_method_imports_a_route_to_labels():
    """The deliberate routes (reloading a dataset, reading the runner's split, introspection) start with an import
    that a method has no reason to make; every module under ``methods/`` is checked."""
    import ast

    from benchmark.core.paths import REPO_ROOT
    offending = []
    for path in sorted((REPO_ROOT / "methods").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules, names = [alias.name for alias in node.names], []
            elif isinstance(node, ast.ImportFrom):
                modules, names = [node.module or ""], [alias.name for alias in node.names]
            else:
                continue
            if any(m == f or m.startswith(f + ".") for m in modules for f in FORBIDDEN_MODULES) \
                    or FORBIDDEN_NAMES & set(names):
                offending.append(f"{path.name}:{node.lineno}")
    assert offending == []


_LEAVES = (type, ModuleType, int, float, complex, bool, bytes, type(None), torch.Tensor, torch.device, torch.dtype)


def reachable(root, name: str = "task") -> list[tuple[str, object]]:
    """(route, object) for everything reachable from ``root`` through attributes (``__dict__``, ``__slots__``),
    closure cells, default arguments, bound methods' ``__self__`` and ``__func__``, ``functools.partial`` parts,
    containers and array bases; not through a function's ``__globals__``, type objects or modules."""
    seen, stack, found = set(), [(name, root)], []
    while stack:
        route, obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _LEAVES):
            continue
        seen.add(id(obj))
        found.append((route, obj))
        if not isinstance(obj, (str, Path)):
            stack.extend(_children(route, obj))
    return found


def _children(route: str, obj):
    if isinstance(obj, dict):
        yield from ((f"{route}[{key!r}]", value) for key, value in obj.items())
        yield from ((f"{route}.keys()", key) for key in obj)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield from ((f"{route}[{i}]", value) for i, value in enumerate(obj))
    if isinstance(obj, np.ndarray) and obj.base is not None:
        yield f"{route}.base", obj.base
    if isinstance(obj, functools.partial):
        yield from ((f"{route}.{part}", getattr(obj, part)) for part in ("func", "args", "keywords"))
    for cell_number, cell in enumerate(getattr(obj, "__closure__", None) or ()):
        try:
            yield f"{route}.__closure__[{cell_number}]", cell.cell_contents
        except ValueError:  # an empty cell
            pass
    for attribute in ("__self__", "__func__", "__wrapped__", "__defaults__", "__kwdefaults__"):
        if not isinstance(obj, np.ndarray) and hasattr(obj, attribute):
            yield f"{route}.{attribute}", getattr(obj, attribute)
    if isinstance(obj, np.ndarray) and not hasattr(obj, "__dict__"):
        return
    for key, value in (vars(obj) if hasattr(obj, "__dict__") else {}).items():
        yield f"{route}.{key}", value
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(obj, slot) and slot not in ("__dict__", "__weakref__"):
                yield f"{route}.{slot}", getattr(obj, slot)


def label_files(folder: Path) -> list[str]:
    return [str(p) for p in Path(folder).iterdir() if "label" in p.name.lower()]


def routes_to_labels(task, data: FERData, split: Split, known: SampleAttributes | None = None) -> list[str]:
    """Every route from ``task`` to the environment, a dataset, a split, a declared dataset's spec (its listing and
    attribute columns), a hidden label or attribute array, or a file path with a label file beside it (a folder:
    holding one)."""
    hidden = {id(a) for a in (data.labels, split.unlabelled_y, split.test_y, split.validation_y, split.labelled_y)}
    if known is not None:
        hidden |= {id(a) for a in (*known.factors.values(), known.true_labels, known.intensity)}
    found = []
    for route, obj in reachable(task):
        if isinstance(obj, (Environment, FERData, Split, SampleAttributes, DatasetSpec)):
            found.append(f"{route}: a {type(obj).__name__}")
        if isinstance(obj, np.ndarray) and id(obj) in hidden:
            found.append(f"{route}: the dataset's or split's labels")
        path = obj if isinstance(obj, Path) else Path(obj) if isinstance(obj, str) and obj.startswith("/") else None
        if path is not None and path.exists():
            found += [f"{route}: {hit}" for hit in label_files(path if path.is_dir() else path.parent)]
    return found


def test_nothing_reachable_from_the_task_leads_to_labels(synthface, tmp_path):
    cache, datasets = synthface
    protocol = PROTOCOLS.get("synthface-compound")
    data = datasets[protocol.dataset]
    split = materialise(protocol, data, protocol.split_seeds[0])
    task, _ = isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=5,
                            device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path,
                            extra_backbones={"toy-pixels": toy_backbone(cache)})
    assert routes_to_labels(task, data, split) == []
    routes = [route for route, obj in reachable(task)]
    assert any(".__closure__" in r for r in routes) and any("backbone_by_name" in r for r in routes)  # walked
    memmaps = [obj for _, obj in reachable(task) if isinstance(obj, np.memmap)]
    assert memmaps and all(label_files(Path(m.filename).parent) == [] for m in memmaps)


def test_nothing_reachable_from_a_subject_independent_task_leads_to_attributes(synthface, attributes, tmp_path):
    """The split by person reads the identities; the task it gives holds no route to them."""
    cache, datasets = synthface
    protocol = PROTOCOLS.get("synthface-v4-basic-si")
    data, known = datasets[protocol.dataset], attributes[protocol.dataset]
    split = materialise(protocol, data, 0, known)
    task, _ = isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=5,
                            device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)
    assert routes_to_labels(task, data, split, known) == []
    assert not any(isinstance(obj, SampleAttributes) for _, obj in reachable(task))


def test_the_walk_finds_a_route_when_there_is_one(synthface, tmp_path):
    """The control: the task as it was before (a bound method of the runner's Environment for backbones, the
    dataset's image file beside labels.npy) is caught by the same walk."""
    cache, datasets = synthface
    protocol = PROTOCOLS.get("synthface-basic")
    data = datasets[protocol.dataset]
    split = materialise(protocol, data, 0)
    env = Environment(tmp_path / "runs", cache, None, torch.device("cpu"))
    env._datasets[data.name] = data
    task, _ = isolated_task(protocol.id, data, split, toy_backbone(cache), method="probe", seed=5,
                            device=torch.device("cpu"), cache_dir=cache, work_dir=tmp_path)
    task.backbone_by_name = env.backbone
    (tmp_path / "images.npy").write_bytes(b"")
    (tmp_path / "labels.npy").write_bytes(b"")
    task.images = np.memmap(tmp_path / "images.npy", mode="w+", shape=(1,))
    found = routes_to_labels(task, data, split)
    assert any("a Environment" in f for f in found) and any("a FERData" in f for f in found)
    assert any(f.endswith("labels.npy") for f in found)


def test_the_runner_gives_a_task_no_route_to_its_environment(synthface, tmp_path, monkeypatch):
    """The task the runner builds, with a declared extra backbone: ``backbone_by_name`` holds backbones only."""
    cache, datasets = synthface
    captured = {}

    class Captured(Exception):
        pass

    def capture(*args, **kwargs):
        captured["task"], _ = isolated_task(*args, **kwargs)
        raise Captured

    monkeypatch.setattr(runner, "isolated_task", capture)
    monkeypatch.setattr(type(runner.METHODS.get("toy-ss")(ToyParams())), "extra_backbones",
                        lambda self: ("toy-cnn",))
    env = Environment(tmp_path / "runs", cache, None, torch.device("cpu"))
    spec = expand(["toy-ss"], ["synthface-basic"], 1, {})[0]
    with pytest.raises(Captured):
        runner.run_one(spec, env)
    task = captured["task"]
    assert routes_to_labels(task, env.dataset("synthface-basic"), env.split(spec)) == []
    assert task.backbone_by_name("toy-cnn") is env.backbone("toy-cnn")
    with pytest.raises(GFaceError, match="extra_backbones"):
        task.backbone_by_name("toy-pixels")
