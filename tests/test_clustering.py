"""Semi-supervised k-means against a brute-force transcription of GCD's algorithm (methods/README.md)."""
import numpy as np
import pytest

from benchmark.clustering import KMeansConfig, kmeans, semi_supervised_kmeans


def _reference_ss_kmeans(xu, xl, yl, k, n_init, max_iter, tol, seed):
    """Loop-by-loop GCD semi-supervised k-means: full distance recomputation, per-cluster mean updates."""
    rng = np.random.RandomState(seed)
    kl = yl.max() + 1
    best = None
    for _ in range(n_init):
        centres = [xl[yl == c].mean(0) for c in range(kl)]
        while len(centres) < k:
            d2 = np.min([((xu - c) ** 2).sum(1) for c in centres], axis=0)
            q = np.cumsum(d2 / d2.sum())
            centres.append(xu[np.searchsorted(q, rng.random_sample())])
        centres = np.array(centres)
        run_best = (np.inf, None, None)
        for _ in range(max_iter):
            d = ((xu[:, None, :] - centres[None]) ** 2).sum(-1)
            labels = d.argmin(1)
            inertia = d.min(1).sum() + ((xl - centres[yl]) ** 2).sum()
            new = np.array([np.r_[xu[labels == j], xl[yl == j]].mean(0) for j in range(k)])
            if inertia < run_best[0]:
                run_best = (inertia, labels, new)
            shift = np.linalg.norm(new - centres, axis=1).sum() ** 2
            centres = new
            if shift < tol:
                break
        if best is None or run_best[0] < best[0]:
            best = run_best
    return best


def _blobs(rng, n_per=60, k=5, dim=8, spread=0.35):
    means = rng.normal(size=(k, dim)) * 2
    x = np.concatenate([m + spread * rng.normal(size=(n_per, dim)) for m in means]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    return x, y


def test_matches_brute_force_reference_on_toy_data():
    rng = np.random.default_rng(0)
    x, y = _blobs(rng)
    labelled = (y < 2) & (rng.random(len(y)) < 0.5)  # classes 0, 1 known, half labelled
    xl, yl, xu = x[labelled], y[labelled], x[~labelled]
    config = KMeansConfig(n_clusters=5, n_init=4, max_iter=50, tol=1e-4, seed=3)
    ours = semi_supervised_kmeans(xu, config, xl, yl)
    inertia, labels, centres = _reference_ss_kmeans(xu, xl, yl, 5, 4, 50, 1e-4, 3)
    np.testing.assert_array_equal(ours.labels, labels)
    assert ours.inertia == pytest.approx(inertia, rel=1e-5)
    np.testing.assert_allclose(ours.centres, centres, rtol=1e-4, atol=1e-5)


def test_labelled_clusters_keep_their_class_ids_and_points():
    rng = np.random.default_rng(1)
    x, y = _blobs(rng, k=4)
    labelled = (y < 2) & (rng.random(len(y)) < 0.5)
    result = semi_supervised_kmeans(x[~labelled], KMeansConfig(4, n_init=3, seed=0), x[labelled], y[labelled])
    # unlabelled points of class c (c < 2) land in cluster c: the labelled class means anchor ids
    for c in (0, 1):
        assert (result.labels[y[~labelled] == c] == c).mean() > 0.95
    # centres of labelled clusters include the pinned labelled points: moving one changes the centre
    shifted = x[labelled].copy()
    shifted[y[labelled] == 0] += 5.0
    moved = semi_supervised_kmeans(x[~labelled], KMeansConfig(4, n_init=3, seed=0), shifted, y[labelled])
    assert not np.allclose(moved.centres[0], result.centres[0])


def test_plain_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(2)
    x, y = _blobs(rng, k=6, spread=0.1)
    result = kmeans(x, KMeansConfig(6, n_init=5, seed=0))
    from benchmark.core.scorer import cluster_accuracy
    assert cluster_accuracy(y, result.labels) == 1.0
    assert len(result.restart_inertias) == 5 and result.inertia == min(result.restart_inertias)


def test_same_seed_same_result_and_new_seed_differs():
    rng = np.random.default_rng(3)
    x, _ = _blobs(rng, k=5, spread=1.5)
    a = kmeans(x, KMeansConfig(5, n_init=1, seed=0))
    b = kmeans(x, KMeansConfig(5, n_init=1, seed=0))
    c = kmeans(x, KMeansConfig(5, n_init=1, seed=7))
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.inertia == b.inertia
    assert not np.array_equal(a.centres, c.centres)


def test_empty_clusters_are_reseeded_not_nan():
    from benchmark.clustering import _update
    xu = np.array([[0, 0], [0.1, 0], [5, 5]], np.float32)
    labels, distances = np.array([0, 0, 1]), np.array([0.0, 0.01, 0.0])
    no_labelled = (np.zeros((3, 2), np.float32), np.zeros(3, np.int64))
    centres = _update(xu, labels, distances, *no_labelled, np.zeros((3, 2), np.float32))
    assert np.isfinite(centres).all()
    np.testing.assert_allclose(centres[2], xu[1])  # the point farthest from its centre seeds the empty cluster
    np.testing.assert_allclose(centres[1], xu[2])


def test_parameters_are_explicit_in_the_record():
    resolved = KMeansConfig(7, n_init=3).resolved(semi_supervised=False)
    assert resolved["init"] == "k-means++"
    assert KMeansConfig(7).resolved(semi_supervised=True)["init"] == "k-means++ seeded by labelled means"
    assert resolved["n_init"] == 3 and resolved["max_iter"] == 200 and resolved["subsampling"] == "none (all points)"
    assert resolved["use_gpu"] is False  # no GPU on CI


def test_assign_gives_nearest_final_centre():
    rng = np.random.default_rng(4)
    x, y = _blobs(rng, k=3, spread=0.1)
    result = kmeans(x, KMeansConfig(3, n_init=2, seed=0))
    np.testing.assert_array_equal(result.assign(x), result.labels)


def test_cpu_nearest_centres_agree_with_a_faiss_flat_index_across_blocks(monkeypatch):
    import faiss

    from benchmark import clustering
    monkeypatch.setattr(clustering, "NEAREST_BLOCK", 64)  # several blocks and a ragged last one
    rng = np.random.default_rng(3)
    x, centres = rng.normal(size=(300, 16)).astype(np.float32), rng.normal(size=(9, 16)).astype(np.float32)
    index = faiss.IndexFlatL2(16)
    index.add(centres)
    want_d, want_i = index.search(x, 1)
    distances, labels = clustering._nearest(x, centres, use_gpu=False)
    assert np.array_equal(labels, want_i[:, 0])
    np.testing.assert_allclose(distances, want_d[:, 0], rtol=1e-5, atol=1e-5)


def test_labelled_inertia_from_class_sums_equals_the_direct_sum():
    from benchmark.clustering import _class_sums, _labelled_inertia
    rng = np.random.default_rng(4)
    xl, yl = rng.normal(size=(50, 5)).astype(np.float32), rng.integers(0, 3, 50)
    centres = rng.normal(size=(4, 5)).astype(np.float32)
    sums, counts = _class_sums(xl, yl, 4)
    direct = float(((xl.astype(np.float64) - centres[yl]) ** 2).sum())
    assert _labelled_inertia(float((xl.astype(np.float64) ** 2).sum()), sums, counts, centres) == pytest.approx(direct)
