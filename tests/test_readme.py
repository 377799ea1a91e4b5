"""The README's commands and its "adding a method" example stay true."""
import re
from pathlib import Path

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


def test_adding_a_method_example_runs(monkeypatch, run_dirs):
    example = re.search(r"## Adding a method.*?```python\n(.+?)```", README, re.S).group(1)
    fresh = Registry("method")
    monkeypatch.setattr(registries, "METHODS", fresh)
    namespace: dict = {}
    exec(compile(example, "README example", "exec"), namespace)
    method = fresh.get("my-method")
    from benchmark.protocol import materialise
    from benchmark.core.registry import PROTOCOLS
    from benchmark.isolation import isolated_task
    from tests.toy_plugins import toy_backbone, toy_data
    data, protocol = toy_data(), PROTOCOLS.get("toy-basic")
    split = materialise(protocol, data, 0)
    import torch
    task, _ = isolated_task("toy-basic", data, split, toy_backbone(None), method="my-method", seed=0,
                            device=torch.device("cpu"), cache_dir=run_dirs[1], work_dir=run_dirs[0])
    predictions = method(method.Params()).run(task)
    assert len(predictions.clusters["unlabelled_train"]) == len(split.unlabelled_idx)
    assert len(predictions.clusters["test"]) == len(split.test_idx)
