"""Dataset loaders. Each module registers its loaders in ``benchmark.core.registry.DATASETS``."""
