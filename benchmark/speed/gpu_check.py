"""Every GPU row of ``benchmark/speed/README.md`` in one command, within a time budget.

``python -m benchmark.speed.gpu_check --out gpu_check/`` runs, one after another, each with its own time limit:
faiss-gpu against the GCD release's layout (``ss_kmeans``), RAF-DB-scale feature extraction and k-means for
ResNet-18 and ViT-B/16 (``rafdb_scale``), feature extraction and k-means for DINOv2 ViT-B/14 and CLIP ViT-B/16 at
4,096 + 1,024 images, bf16 training throughput of gcd, simgcd and digface on ViT-B/16 with fresh views and from a
view bank (``training_throughput``), all with random weights where the real files are absent, and
the learners on the embedded SynthFACE protocol (``learner_speed``). Each step writes its JSON next
to its printed table; at the end one Markdown summary lists every step, its wall time and its rows. A step that
fails or runs past its limit is reported and the others still run.

``--smoke`` runs the same steps at toy sizes on the CPU: the check of this script before a GPU is lent.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

NEW_VITS = {"dinov2 vit-b/14": "vit_b14_dinov2", "clip vit-b/16": "vit_b16_clip"}  # extraction at 4k + 1k images
STEPS = {  # name -> (module, full-size arguments, smoke arguments, time limit in seconds; 9.5 minutes in all)
    "ss-kmeans (faiss-gpu)": ("ss_kmeans", ["--device", "cuda"], ["--n", "2000", "--k", "20", "--known", "10"], 45),
    "rafdb-scale resnet18": ("rafdb_scale", ["--backbone", "resnet18_msceleb", "--random-weights", "--device", "cuda"],
                             ["--backbone", "resnet18_msceleb", "--random-weights", "--n-train", "64", "--n-test",
                              "32"], 75),
    "rafdb-scale vit-b/16": ("rafdb_scale", ["--random-weights", "--device", "cuda"],
                             ["--random-weights", "--n-train", "32", "--n-test", "16"], 140),
    **{f"rafdb-scale {label}": ("rafdb_scale", ["--backbone", name, "--random-weights", "--device", "cuda",
                                                 "--n-train", "4096", "--n-test", "1024", "--methods", "kmeans"],
                                ["--backbone", name, "--random-weights", "--n-train", "32", "--n-test", "16",
                                 "--methods", "kmeans"], 60)
       for label, name in NEW_VITS.items()},
    "training vit-b/16 bf16": ("training_throughput", ["--random-weights", "--device", "cuda", "--steps", "50",
                                                       "--batch-size", "128", "--workers", "8", "--view-bank", "4"],
                               ["--random-weights", "--steps", "1", "--batch-size", "16", "--workers", "1",
                                "--view-bank", "2"], 150),
    "learners synthface-cnn": ("learner_speed", ["--device", "cuda"], ["--methods", "simgcd", "--view-bank", "2"], 40),
}
SMOKE_SLACK = 5  # toy sizes on 2 CPU cores still build a ViT-B/16 and run it: their limits are this much longer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu_check"), help="folder for each step's JSON")
    parser.add_argument("--smoke", action="store_true", help="toy sizes on the CPU (checks the script itself)")
    parser.add_argument("--only", nargs="+", choices=list(STEPS), help="run these steps only")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = []
    for name in args.only or STEPS:
        module, full, smoke, limit = STEPS[name]
        arguments = smoke + ["--device", "cpu"] if args.smoke else full
        json_path = args.out / f"{module}-{len(summary)}.json"
        summary.append(run_step(name, module, arguments, json_path, limit * (SMOKE_SLACK if args.smoke else 1)))
    print("## GPU check summary\n")
    print(tabulate(summary, headers="keys", tablefmt="github"))
    return 0 if all(row["status"] == "ok" for row in summary) else 1


def run_step(name: str, module: str, arguments: list[str], json_path: Path, limit: int) -> dict:
    """Run one speed script in a subprocess under ``limit`` seconds; its status, wall time and rows."""
    command = [sys.executable, "-m", f"benchmark.speed.{module}", *arguments, "--json", str(json_path)]
    print(f"== {name}: {' '.join(command[2:])}", flush=True)
    start = time.perf_counter()
    try:
        finished = subprocess.run(command, timeout=limit, text=True, capture_output=True)
        status = "ok" if finished.returncode == 0 else f"failed ({finished.returncode})"
        print(finished.stdout + finished.stderr[-2000:], flush=True)
    except subprocess.TimeoutExpired:
        status = f"over its {limit} s limit"
    rows = json.loads(json_path.read_text())["rows"] if status == "ok" and json_path.exists() else []
    return {"step": name, "status": status, "wall s": round(time.perf_counter() - start, 1), "rows": len(rows)}


if __name__ == "__main__":
    sys.exit(main())
