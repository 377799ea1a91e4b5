"""Run records -> tables -> Markdown, LaTeX and charts, read top to bottom:

- collect: ``collect.py`` (records -> the long table), ``store.py`` (the results store ``leaderboard/results/``),
  ``store_legacy.py`` (the old single-file ``results.csv``);
- select and aggregate: ``cells.py`` (row labels, ``mean ± std (n)`` cells), ``headline.py`` (default
  configurations and protocols), ``yours.py`` (a user's runs beside the committed board);
- render, one module per table family: ``board.py`` (LEADERBOARD.md and the README table) with ``open_set.py``,
  ``k_unknown.py`` and ``fair.py``; ``latex.py``; ``charts.py`` with ``chart_style.py``.
"""
