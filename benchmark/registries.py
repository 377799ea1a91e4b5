"""The four registries of the suite. Plugins add themselves with ``@METHODS.register(name)`` etc."""
from benchmark.registry import Registry

METHODS: Registry = Registry("method")
DATASETS: Registry = Registry("dataset")
BACKBONES: Registry = Registry("backbone")
PROTOCOLS: Registry = Registry("protocol")
