"""The per-run embedding plot reads a finished run's predictions and writes a PNG."""
from benchmark.cli import main
from benchmark.tools.embedding_plot import main as plot


def test_a_finished_run_is_plotted_and_a_folder_without_predictions_is_refused(run_dirs, tmp_path, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "ss-kmeans", "--protocols", "toy-basic", "--no-leaderboard", "--runs-dir", str(runs),
                 "--cache-dir", str(cache)]) == 0
    folder = next(runs.glob("toy-basic/ss-kmeans/*"))
    out = tmp_path / "embedding.png"
    assert plot([str(folder), "--out", str(out), "--cache-dir", str(cache)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (folder / "predictions.npz").unlink()
    assert plot([str(folder), "--out", str(out), "--cache-dir", str(cache)]) == 2
    assert "error:" in capsys.readouterr().err
