"""Command-line tools run with ``python -m benchmark.tools.<name>``; never imported by plugin discovery."""
