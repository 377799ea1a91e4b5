"""Backbones registered by name in ``benchmark.core.registry.BACKBONES``."""
