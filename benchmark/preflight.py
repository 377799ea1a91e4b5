"""Check a whole sweep before its first run, and fix each run's identity.

Everything that needs no training is checked for every run of the plan: the device, data roots and label files
(by loading each dataset once), class names and the split (non-empty labelled set, pinned split hashes), backbones
and their weight files, parameter ranges and each method's own requirements (``Method.check``: K given, at least one
optimiser step per epoch, ...). The first problem stops the sweep with one ``error:`` line, before anything is
written. ``--dry-run`` runs the same checks.

A run's identity (part of its run id) is what its numbers depend on beyond its configuration: the dataset's content
key, the split hash, the backbone's weight hash, the method's code version and the scorer version.
"""
from __future__ import annotations

from benchmark.core.backbone import Backbone
from benchmark.core.registry import METHODS
from benchmark.method import TaskShape
from benchmark.plan import RunSpec
from benchmark.runner import Environment, current_identity
from benchmark.splits import Split


def preflight(specs: list[RunSpec], env: Environment) -> list[RunSpec]:
    """The specs with their identities filled in; raises ``GFaceError`` on the first problem found."""
    checked = []
    for spec in specs:
        data = env.dataset(spec.protocol.dataset)
        split = env.split(spec)
        backbone = env.backbone(spec.backbone)
        method_class = METHODS.get(spec.method)
        method_class(method_class.Params(**spec.params)).check(task_shape(split, backbone))
        checked.append(spec.with_identity(current_identity(spec, data, split, env)))
    return checked


def task_shape(split: Split, backbone: Backbone) -> TaskShape:
    protocol = split.protocol
    return TaskShape(protocol.id, len(split.labelled_idx), len(split.unlabelled_idx), len(split.test_idx),
                     protocol.n_known, len(protocol.class_names) if protocol.k_given else None, backbone.name,
                     backbone.trunk is not None and backbone.tail is not None)
