"""GFACE-Bench core: registry, protocols, clustering, scoring, runner and leaderboard."""
