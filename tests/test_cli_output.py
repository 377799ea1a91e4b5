"""Console output: no progress bars or raw dicts in redirected output, quiet broken pipes, broken protocol files
break only the commands that use them."""
import subprocess
import sys

from benchmark.core.paths import REPO_ROOT

TOYS = ("import sys; from tests.toy_plugins import register_toys; register_toys(); "
        "from benchmark.cli import main; sys.exit(main(sys.argv[1:]))")


def _run(*args, script=None):
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "run_benchmark.py", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_redirected_sweep_prints_one_plain_line_per_run(tmp_path):
    proc = _run("--methods", "toy-ss", "--seeds", "2", "--protocols", "toy-basic", "--no-leaderboard", "--lanes", "1",
                "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), script=TOYS)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and "it/s" not in proc.stderr
    assert "start {" not in proc.stderr + proc.stdout
    assert len([line for line in proc.stderr.splitlines() if line.startswith("done toy-basic/toy-ss/")]) == 2
    log = next((tmp_path / "runs").glob("toy-basic/toy-ss/*/log.txt")).read_text()
    assert "start {" in log  # the full spec stays in the run's log


def test_closed_stdout_pipe_exits_quietly():
    proc = subprocess.Popen([sys.executable, "run_benchmark.py", "--list", "methods"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -1` having exited before anything is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert stderr == ""


def test_malformed_protocol_file_breaks_only_its_own_commands(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mine.yaml").write_text("id: mine\nknown: [a, b\n")
    assert _run("--plugins", str(plugins), "--list", "methods").returncode == 0
    listed = _run("--plugins", str(plugins), "--list", "protocols")
    assert listed.returncode == 0
    line = next(line for line in listed.stdout.splitlines() if line.strip().startswith("mine "))
    assert "BROKEN" in line and "is not valid YAML" in line
    used = _run("--plugins", str(plugins), "--methods", "kmeans", "--protocols", "mine", "--dry-run")
    assert used.returncode == 2 and "Traceback" not in used.stderr
    assert [line for line in used.stderr.splitlines() if line.startswith("error: ")][0].count("not valid YAML") == 1
    toys = str(REPO_ROOT / "tests" / "cli_plugins")
    assert _run("--plugins", str(plugins), toys, "--methods", "kmeans", "--protocols", "toy-basic", "--dry-run",
                "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")).returncode == 0
