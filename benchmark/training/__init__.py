"""Shared training machinery for the learning methods: losses, sampler, on-device augmentation, trainer."""
