"""The README's commands and its "Add a method" example stay true."""
import re
from pathlib import Path

import pytest

import benchmark.core.registry as registries
from benchmark.core.registry import Registry

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    block = re.search(r"<!-- test-command:start -->\n```bash\n(.+?)\n```\n<!-- test-command:end -->", README, re.S)
    assert block and "pytest" in block.group(1)
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "test-command:start" in ci


def test_readme_main_command_runs_all_methods():
    assert "run_benchmark.py --methods all" in README


@pytest.mark.parametrize("protocol_id", ["toy-basic", "toy-cnn-k-unknown", "toy-cnn-p0", "toy-open-delta"])
def test_add_a_method_example_runs_on_every_protocol_kind(protocol_id, monkeypatch, run_dirs):
    """K given, K unknown, a partition protocol (validation images to predict) and an open-set protocol."""
    example = re.search(r"## Add a method.*?```python\n(.+?)```", README, re.S).group(1)
    fresh = Registry("method")
    monkeypatch.setattr(registries, "METHODS", fresh)
    namespace: dict = {}
    exec(compile(example, "README example", "exec"), namespace)
    method = fresh.get("my-method")
    import torch
    from benchmark.core.registry import BACKBONES, PROTOCOLS
    from benchmark.isolation import isolated_task
    from benchmark.splits import materialise
    from tests.toy_plugins import toy_data
    protocol = PROTOCOLS.get(protocol_id)
    data = toy_data()
    split = materialise(protocol, data, 0)
    backbone = BACKBONES.get(protocol.backbone)(run_dirs[1])
    task, _ = isolated_task(protocol_id, data, split, backbone, method="my-method", seed=0,
                            device=torch.device("cpu"), cache_dir=run_dirs[1], work_dir=run_dirs[0])
    predictions = method(method.Params()).run(task)
    assert set(predictions.clusters) == set(task.prediction_sets)
    for eval_set in task.prediction_sets:
        assert len(predictions.clusters[eval_set]) == len(task.indices(eval_set))
    assert (predictions.k_estimated is None) == (task.n_classes is not None)


def readme_prose_words(text: str) -> int:
    """Words of README.md outside the generated headline table."""
    from benchmark.reporting.board import README_END, README_START
    return len(re.sub(re.escape(README_START) + ".*?" + re.escape(README_END), "", text, flags=re.S).split())


def test_readme_is_reference_not_history():
    assert readme_prose_words(README) <= 1500, "README.md prose is over 1,500 words: move findings to FINDINGS.md"
    assert not re.search(r"Status \(20\d\d", README), "dated status paragraphs belong in CHANGELOG.md"


def test_the_prose_count_leaves_the_generated_table_out():
    from benchmark.reporting.board import README_END, README_START
    assert readme_prose_words(f"one two\n{README_START}\n| a | b | c |\n{README_END}\nthree") == 3
