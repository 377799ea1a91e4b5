"""--backbones: each run once per backbone, with its own run id; the tables give each backbone its own row."""
import json

from benchmark.cli import main


def test_two_backbones_run_side_by_side(run_dirs, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "ss-kmeans", "--protocols", "toy-basic", "--backbones", "toy-pixels", "toy-cnn",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    records = [json.loads(p.read_text()) for p in runs.glob("toy-basic/ss-kmeans/*/record.json")]
    assert sorted(r["backbone"]["name"] for r in records) == ["toy-cnn", "toy-pixels"]
    assert len({r["run_id"] for r in records}) == 2
    table = (runs / "leaderboard" / "LEADERBOARD.md").read_text()
    assert "| SS-k-means [toy-cnn]" in table and "| SS-k-means [toy-pixels]" in table
    capsys.readouterr()
    assert main(["--methods", "ss-kmeans", "--protocols", "toy-basic", "--runs-dir", str(runs), "--cache-dir",
                 str(cache), "--dry-run"]) == 0
    assert "1 runs: 1 done, 0 pending" in capsys.readouterr().out  # the default backbone's run id is unchanged


def test_unknown_backbone_is_one_error(run_dirs, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "kmeans", "--protocols", "toy-basic", "--backbones", "toy-pixel", "--dry-run",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 2
    assert "unknown backbone 'toy-pixel'. Did you mean" in capsys.readouterr().err
