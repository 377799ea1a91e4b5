"""GCD methods. Each module registers one method in ``benchmark.registries.METHODS``; adding a method is one file."""
