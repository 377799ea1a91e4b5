"""Checks a method makes of its task: at run time (``require_k``) and before a sweep (``Method.check`` helpers)."""
from benchmark.errors import GFaceError
from benchmark.method import TaskShape
from benchmark.task import GCDTask


def require_k(task: GCDTask, method_name: str) -> int:
    """K = K_old + K_new, which this method needs given."""
    if task.n_classes is None:
        raise GFaceError(_k_missing(method_name, task.protocol_id))
    return task.n_classes


def require_k_given(shape: TaskShape, method_name: str) -> None:
    if shape.n_classes is None:
        raise GFaceError(_k_missing(method_name, shape.protocol_id))


def require_steps(shape: TaskShape, batch_size: int, method_name: str) -> None:
    """Training over D_L and D_U drops the last incomplete batch: it needs at least one full batch per epoch."""
    n_rows = shape.n_labelled + shape.n_unlabelled
    if batch_size > n_rows:
        raise GFaceError(f"{method_name}: batch_size {batch_size} exceeds the {n_rows} training images of protocol "
                         f"{shape.protocol_id!r}, so an epoch would make no optimiser step; lower it, e.g. "
                         f"--set {method_name}.batch_size={max(1, n_rows // 4)}")


def _k_missing(method_name: str, protocol_id: str) -> str:
    return (f"{method_name} needs the number of classes K, but protocol {protocol_id!r} does not give it "
            f"(k_given: false); use a protocol with k_given: true")
