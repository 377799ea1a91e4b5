"""Checks a method makes of its task before running."""
from benchmark.core.errors import GFaceError
from benchmark.task import GCDTask


def require_k(task: GCDTask, method_name: str) -> int:
    """K = K_old + K_new, which this method needs given."""
    if task.n_classes is None:
        raise GFaceError(f"{method_name} needs the number of classes K, but protocol {task.protocol_id!r} does "
                         f"not give it (k_given: false); use a protocol with k_given: true")
    return task.n_classes
