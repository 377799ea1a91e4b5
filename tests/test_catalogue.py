"""Discoverability: --show METHOD, --list marks data and weights present or missing, subcommands in --help."""
from benchmark.cli import main


def test_show_gives_parameters_defaults_and_profiles(capsys):
    assert main(["--show", "ss-kmeans"]) == 0
    out = capsys.readouterr().out
    assert "n_init" in out and "100" in out  # the paper's value
    assert "cpu: n_init=10" in out


def test_show_unknown_method_is_one_error(capsys):
    assert main(["--show", "ss-kmean"]) == 2
    assert "Did you mean 'ss-kmeans'" in capsys.readouterr().err


def test_list_datasets_marks_present_and_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GFACE_DATA_ROOT", raising=False)
    (tmp_path / "raf-basic").mkdir()
    assert main(["--list", "datasets", "--data-root", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "present" in lines["rafdb-basic"] and "missing" in lines["rafdb-compound"]
    assert "built-in" in lines["synthface-basic"]


def test_list_backbones_marks_weight_files(tmp_path, capsys, monkeypatch):
    weights = tmp_path / "dino.pth"
    weights.write_bytes(b"x")
    monkeypatch.setenv("GFACE_DINO_VITB16", str(weights))
    monkeypatch.delenv("GFACE_RESNET18_IMAGENET", raising=False)
    assert main(["--list", "backbones", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "present" in lines["vit_b16_dino"] and "missing" in lines["resnet18_imagenet"]
    assert "weights fetch resnet18_imagenet" in out


def test_help_lists_the_subcommands(capsys):
    try:
        main(["--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert " leaderboard " in out and " weights list|fetch" in out and "--show" in out
