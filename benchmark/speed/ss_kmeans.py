"""Semi-supervised k-means: this suite's (benchmark/clustering.py) against the GCD release's, same features and
the same initial centres, a fixed number of iterations (no early stop).

Features: N synthetic L2-normalised points in D dimensions around K class centres; the first K_L classes are
known and half of their points labelled (as in the protocols). For each of ``--n-init`` restarts both
implementations run their own k-means++ (same seed stream; timed as "init"), then Lloyd iterations from *our*
k-means++ centres (identical start; timed as "iterations"). Inertia (labelled + unlabelled, the objective both
minimise) is compared restart by restart. The floor is one N_U x D by D x K matmul (N_U: the unlabelled points
each iteration assigns).

The release's code is not part of this suite: pass ``--release-dir`` pointing at your checkout of
https://github.com/sgvaze/generalized-category-discovery and it is imported from there at run time.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import joblib
import numpy as np
import torch

from benchmark.clustering import KMeansConfig, _class_sums, _kmeans_plus_plus, _lloyd
from benchmark.device import resolve_device
from benchmark.core.errors import GFaceError
from benchmark.speed.report import publish, stopwatch

RELEASE_FILE = "methods/clustering/faster_mix_k_means_pytorch.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.ss_kmeans", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="points, labelled + unlabelled (default 50000)")
    parser.add_argument("--dim", type=int, default=768, help="feature dimension D (default 768)")
    parser.add_argument("--k", type=int, default=100, help="clusters K (default 100)")
    parser.add_argument("--known", type=int, default=50, help="known (labelled) classes K_L (default 50)")
    parser.add_argument("--n-init", type=int, default=10, help="restarts timed for ours (default 10)")
    parser.add_argument("--release-inits", type=int, default=None,
                        help="restarts timed for the release (default: --n-init; fewer when it is slow)")
    parser.add_argument("--iters", type=int, default=5, help="Lloyd iterations per restart, both (default 5)")
    parser.add_argument("--release-dir", type=Path, help="checkout of the GCD release to compare against")
    parser.add_argument("--pairwise-batch", type=int, default=1024,
                        help="the release's pairwise_batch_size (its k_means.py uses 1024)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the release's tensors; faiss uses the GPU "
                                                        "whenever faiss-gpu sees one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the table and machine facts here")
    return parser.parse_args(argv)


def synthetic_features(n: int, dim: int, k: int, known: int, seed: int):
    """(x_unlabelled, x_labelled, y_labelled): Gaussian classes on the unit sphere, half of the known labelled."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)).astype(np.float32)
    y = np.arange(n) % k
    x = centres[y] + rng.normal(scale=1.5, size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labelled = (y < known) & (rng.random(n) < 0.5)
    return x[~labelled], x[labelled], y[labelled]


def matmul_floor(xu: np.ndarray, k: int, device: torch.device, repeats: int = 5) -> float:
    """Median seconds of one N_U x D by D x K matmul (float32) on the device."""
    a = torch.from_numpy(xu).to(device)
    b = torch.randn(xu.shape[1], k, device=device)
    a @ b  # warm-up: thread pools, kernels
    times = []
    for _ in range(repeats):
        with stopwatch(device) as elapsed:
            a @ b
        times.append(elapsed())
    return float(np.median(times))


def time_ours(xu, xl, yl, k: int, n_init: int, iters: int, seed: int):
    """Per restart: (init s, iterations s, inertia, initial centres)."""
    config = KMeansConfig(k, n_init=1, max_iter=iters, tol=0.0, seed=seed)
    sums, counts = _class_sums(xl, yl, k)
    means = sums[:int(yl.max()) + 1] / counts[:int(yl.max()) + 1, None]
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n_init):
        with stopwatch(torch.device("cpu")) as init:
            centres = _kmeans_plus_plus(xu, means, k, rng)
        with stopwatch(torch.device("cpu")) as lloyd:
            result = _lloyd(xu, xl, yl, sums, counts, centres, config)
        out.append((init(), lloyd(), result.inertia, centres))
    return out


def load_release_kmeans(release_dir: Path):
    """``K_Means`` from the user's checkout of the release (sklearn's removed ``_joblib`` alias restored)."""
    path = Path(release_dir).expanduser() / RELEASE_FILE
    if not path.is_file():
        raise GFaceError(f"--release-dir {release_dir}: {RELEASE_FILE} not found; point it at a checkout of "
                         f"https://github.com/sgvaze/generalized-category-discovery")
    sys.modules.setdefault("sklearn.utils._joblib", joblib)  # removed from scikit-learn in 0.23
    sys.path.insert(0, str(Path(release_dir).expanduser()))  # for its project_utils package
    spec = importlib.util.spec_from_file_location("gcd_release_kmeans", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.K_Means


def time_release(k_means_class, xu, xl, yl, k: int, starts: list[np.ndarray], iters: int, pairwise_batch: int,
                 device: torch.device, seed: int):
    """Per restart: (init s with its own k-means++, iterations s from the given start, inertia)."""
    u, l, t = (torch.from_numpy(a).to(device) for a in (xu, xl, yl))
    model = k_means_class(k=k, tolerance=0.0, max_iterations=iters, init="k-means++", n_init=1, random_state=seed,
                          n_jobs=None, pairwise_batch_size=pairwise_batch)
    rng = np.random.RandomState(seed)
    l_means = torch.stack([l[t == c].mean(0) for c in torch.unique(t)])
    out = []
    for start in starts:
        with stopwatch(device) as init:
            model.kpp(u, l_means, k=k, random_state=rng)
        model.kpp = lambda *args, fixed=torch.from_numpy(start).to(device), **kwargs: fixed.clone()
        with stopwatch(device) as lloyd:
            _, inertia, _, _ = model.fit_mix_once(u, l, t, rng)
        del model.kpp  # back to the class's own k-means++ for the next restart's init timing
        out.append((init(), lloyd(), float(inertia)))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    release_kmeans = load_release_kmeans(args.release_dir) if args.release_dir is not None else None
    xu, xl, yl = synthetic_features(args.n, args.dim, args.k, args.known, args.seed)
    floor = matmul_floor(xu, args.k, device)
    ours = time_ours(xu, xl, yl, args.k, args.n_init, args.iters, args.seed)
    rows = [_row("this suite (BLAS on CPU, faiss on GPU)", [(a, b, c) for a, b, c, _ in ours], args.iters, floor)]
    notes = [f"N = {args.n} ({len(xu)} unlabelled, {len(xl)} labelled), D = {args.dim}, K = {args.k} "
             f"({args.known} known), {args.iters} iterations per restart, matmul floor "
             f"({len(xu)} x {args.dim} by {args.dim} x {args.k}, {device}) = {floor * 1e3:.3g} ms"]
    if release_kmeans is not None:
        runs = args.release_inits or args.n_init
        release = time_release(release_kmeans, xu, xl, yl, args.k,
                               [c for *_, c in ours[:runs]], args.iters, args.pairwise_batch, device, args.seed)
        rows.append(_row("GCD release (PyTorch)", release, args.iters, floor))
        ours_per_run = sum(a + b for a, b, *_ in ours) / len(ours)
        release_per_run = sum(a + b for a, b, _ in release) / len(release)
        rel = max(abs(r[2] - o[2]) / abs(r[2]) for r, o in zip(release, ours))
        notes += [f"speed-up (init + iterations, per restart): {release_per_run / ours_per_run:.1f}x "
                  f"(goal >= 100x)",
                  f"largest relative inertia difference over the {runs} shared restarts: {rel:.2e} (goal <= 1e-3)"]
    notes.append(f"our iteration / matmul floor: {rows[0]['per iteration / matmul']:.2f} (goal <= 2)")
    publish("Semi-supervised k-means", rows, device, args.json, notes)
    return 0


def _row(name: str, runs: list[tuple[float, float, float]], iters: int, floor: float) -> dict:
    init = sum(r[0] for r in runs) / len(runs)
    lloyd = sum(r[1] for r in runs) / len(runs)
    return {"implementation": name, "restarts timed": len(runs), "init s / restart": init,
            "iterations s / restart": lloyd, "init + iterations s / restart": init + lloyd,
            "s / iteration": lloyd / iters, "per iteration / matmul": lloyd / iters / floor,
            "best inertia": min(r[2] for r in runs)}


if __name__ == "__main__":
    sys.exit(main())
