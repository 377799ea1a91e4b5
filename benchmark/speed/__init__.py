"""Speed benchmarks, each runnable as ``python -m benchmark.speed.<name> --help``; results: README.md here."""
