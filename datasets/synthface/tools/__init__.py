"""Command-line tools about SynthFACE (oracle, objective study, contact sheet, RAF layout).

Never imported by plugin discovery: run each with ``python -m datasets.synthface.tools.<name>``.
"""
