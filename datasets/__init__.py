"""Dataset loaders. Each module registers its loaders in ``benchmark.registries.DATASETS``."""
