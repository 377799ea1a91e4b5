"""GCD methods. Each module registers one method in ``benchmark.core.registry.METHODS``; adding a method is one file."""
