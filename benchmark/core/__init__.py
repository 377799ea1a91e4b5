"""The core: errors, registries, the data and backbone contracts, content keys, atomic IO, the scorer."""
