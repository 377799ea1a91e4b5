"""Backbones registered by name in ``benchmark.registries.BACKBONES``."""
