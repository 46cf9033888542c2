"""ADVISE grouping and maps against an independent NumPy computation (REFERENCE-NOTES §3), and its
selection strategies against hand-built candidates and scorers."""

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.explainers import Explanation, get_explainer
from advise_bench.explainers.advise import ADVISE
from advise_bench.explainers.kde import unit_peak_counts
from advise_bench.explainers.selection import SELECTIONS
from advise_bench.models.zoo import LoadedModel


def _groups(exp, x, targets) -> list[Explanation]:
    """ADVISE's full output (every group map) for one target per image."""
    return [row[0] for row in exp.explain_candidates(x, targets)]


def _expected_groups(tiny_cnn, loaded, x, target, source="activations"):
    r, p, w = tiny_cnn.forward(loaded.model, x.astype(np.float64))
    g = tiny_cnn.grads(r, p, w, target)[0]
    a = r[0]
    samples = a if source == "activations" else g
    scores = unit_peak_counts(samples.reshape(-1, a.shape[-1]).T)
    alpha = g.mean(axis=(0, 1))
    out = {}
    for n in np.unique(scores):
        cam = np.maximum((a[..., scores == n] * alpha[scores == n]).sum(-1), 0)
        if cam.sum() > 0:
            out[int(n)] = (int((scores == n).sum()), cam)
    return scores, out


@pytest.mark.parametrize("source", ["activations", "gradients"])
def test_groups_match_numpy(tiny_case, tiny_cnn, source):
    from advise_bench.explainers.base import upsample_bicubic

    loaded, x = tiny_case
    exp = ADVISE(loaded, relevance_source=source)
    for target in (0, 4):
        res = _groups(exp, x[:1], [target])[0]
        scores, expected = _expected_groups(tiny_cnn, loaded, x[:1], target, source)
        np.testing.assert_array_equal(res.arrays["unit_scores"], scores)
        peaks = [c["peaks"] for c in res.candidates]
        assert peaks == sorted(expected)
        for c, m in zip(res.candidates, res.maps, strict=True):
            assert c["units"] == expected[c["peaks"]][0]
            low = expected[c["peaks"]][1]
            want = np.clip(upsample_bicubic(((low - low.min()) / np.ptp(low))[None], 12), 0, 1)[0]
            np.testing.assert_allclose(m, want, atol=1e-4)
        assert (res.info["peak_min"], res.info["peak_max"]) == (scores.min(), scores.max())
        assert res.maps.shape == (len(expected), 12, 12) and res.maps.max() <= 1 and res.maps.min() >= 0


def test_activation_scores_do_not_depend_on_the_class(tiny_case):
    loaded, x = tiny_case
    exp = ADVISE(loaded)
    a, b = exp.explain_candidates(x[:1], [[0, 3]])[0]
    np.testing.assert_array_equal(a.arrays["unit_scores"], b.arrays["unit_scores"])
    assert 0 < a.info["kde_s"] <= a.seconds  # the one KDE is part of the first target's (cold) cost
    grads = ADVISE(loaded, relevance_source="gradients")
    assert _groups(grads, x[:1], [0])[0].arrays["unit_scores"].shape == a.arrays["unit_scores"].shape


def test_one_kde_per_image_and_none_left_over_from_earlier_calls(tiny_case, monkeypatch):
    """Activation scores are computed once per image per call (shared by its targets, one batched KDE for
    all the images of the call) and never cached across calls, so a warm-up call cannot make the first
    timed image cheaper."""
    import advise_bench.explainers.grouping as grouping_module

    loaded, x = tiny_case
    calls = []
    real = grouping_module.unit_peak_counts_batch
    monkeypatch.setattr(grouping_module, "unit_peak_counts_batch",
                        lambda samples, **k: calls.append(len(samples)) or real(samples, **k))
    exp = ADVISE(loaded, selection="max-peaks")
    exp.warm_up(x[:1], [[0, 1]])
    assert calls == [1]
    exp.explain_candidates(x, [[0, 1], [2, 3]])
    assert calls == [1, 2]  # two images, two targets each: one KDE of the two images


def test_selection_rules(tiny_case):
    loaded, x = tiny_case
    res = _groups(ADVISE(loaded), x[:1], [1])[0]
    peaks = [c["peaks"] for c in res.candidates]
    top = ADVISE(loaded, selection="max-peaks")(x[:1], [1])[0]
    np.testing.assert_array_equal(top, res.maps[np.argmax(peaks)])
    combined = ADVISE(loaded, selection="all")(x[:1], [1])[0]
    summed = res.maps.sum(axis=0)
    np.testing.assert_allclose(combined, (summed - summed.min()) / np.ptp(summed), atol=1e-6)
    with pytest.raises(UserError, match="scorer"):  # oracle-avx is evaluation-time only
        ADVISE(loaded, selection="oracle-avx")(x[:1], [1])
    with pytest.raises(UserError):
        ADVISE(loaded, selection="best")
    with pytest.raises(UserError):
        ADVISE(loaded, relevance_source="logits")
    with pytest.raises(UserError):
        ADVISE(loaded, grouping="kmeans")


def _hand_built(peaks_top1, peaks_top2, size=4):
    """Two explanations whose candidate j is the constant map j+1 (top-1) or 10*(j+1) (top-2)."""
    def explanation(target, peaks, scale):
        maps = np.full((len(peaks), size, size), scale, np.float32) * np.arange(1, len(peaks) + 1)[:, None, None]
        return Explanation(target, maps, [{"peaks": p, "units": 1} for p in peaks])

    return [explanation(7, peaks_top1, 1.0), explanation(8, peaks_top2, 10.0)]


def test_oracle_selection_picks_the_best_avx_candidate_with_its_counterpart():
    explanations = _hand_built([0, 2, 5], [2, 5, 9])
    avx = {1.0: 0.2, 2.0: 0.9, 3.0: 0.4}  # scorer: AVX by the top-1 candidate's value
    seen = []

    def scorer(maps):
        seen.append(maps.copy())
        return {"AVX": avx[float(maps[0, 0, 0])], "marker": float(maps[1, 0, 0])}

    sel = SELECTIONS["oracle-avx"](explanations, scorer, "peaks")
    assert len(seen) == 3  # every candidate is scored once
    assert sel.info == {"selected_peaks": 2, "selection": "oracle-avx"}
    assert sel.maps[0, 0, 0] == 2.0 and sel.maps[1, 0, 0] == 10.0  # peaks-2 group of the top-2 explanation
    assert sel.scores == {"AVX": 0.9, "marker": 10.0}
    # A top-1 group with no top-2 group of the same peak count is paired with a blank map.
    assert seen[0][1].max() == 0.0
    with pytest.raises(UserError, match="scorer"):
        SELECTIONS["oracle-avx"](explanations, None, "peaks")


def test_max_peaks_all_and_empty_selections_on_hand_built_candidates():
    explanations = _hand_built([0, 2, 5], [2, 5, 9])
    sel = SELECTIONS["max-peaks"](explanations, None, "peaks")
    assert sel.info["selected_peaks"] == 5 and sel.maps[0, 0, 0] == 3.0 and sel.maps[1, 0, 0] == 20.0
    sel = SELECTIONS["all"](explanations, None, "peaks")
    assert sel.info["selection"] == "all" and np.all(sel.maps == 0)  # a constant sum rescales to 0
    empty = _hand_built([], [1])
    sel = SELECTIONS["oracle-avx"](empty, lambda maps: pytest.fail("nothing to score"), "peaks")
    assert sel.info["selection"] == "none" and sel.maps.shape == (2, 4, 4) and sel.maps.max() == 0


def test_random_grouping_keeps_group_sizes_but_not_membership(tiny_case):
    loaded, x = tiny_case
    kde = _groups(ADVISE(loaded), x[:1], [1])[0].arrays["unit_scores"]
    rnd = _groups(ADVISE(loaded, grouping="random", seed=1), x[:1], [1])[0].arrays["unit_scores"]
    again = _groups(ADVISE(loaded, grouping="random", seed=1), x[:1], [1])[0].arrays["unit_scores"]
    np.testing.assert_array_equal(np.sort(kde), np.sort(rnd))
    np.testing.assert_array_equal(rnd, again)
    assert any(not np.array_equal(kde, _groups(ADVISE(loaded, grouping="random", seed=s), x[:1], [1])[0]
                                  .arrays["unit_scores"]) for s in range(1, 6))


def test_without_relu_keeps_negative_evidence(tiny_case):
    from advise_bench.explainers.base import finalize_maps

    loaded, x = tiny_case
    with_relu = ADVISE(loaded, selection="max-peaks")
    no_relu = ADVISE(loaded, relu=False, selection="max-peaks")
    acts, grads = with_relu.gradients(x[:1], np.array([2]))
    scores = with_relu.unit_scores(acts[0])
    alpha = grads[0].mean(axis=(0, 1))
    lows = {int(n): (acts[0][..., scores == n] * alpha[scores == n]).sum(-1) for n in np.unique(scores)}
    assert any(low.min() < 0 for low in lows.values())  # there is negative evidence to keep or drop
    kept, dropped = _groups(no_relu, x[:1], [2])[0], _groups(with_relu, x[:1], [2])[0]
    for res, relu in ((kept, False), (dropped, True)):
        for c, m in zip(res.candidates, res.maps, strict=True):
            low = np.maximum(lows[c["peaks"]], 0) if relu else lows[c["peaks"]]
            np.testing.assert_allclose(m, finalize_maps(low[None].astype(np.float32), 12)[0], atol=1e-5)
    assert {c["peaks"] for c in dropped.candidates} <= {c["peaks"] for c in kept.candidates}


def test_real_mobilenet_v2_peak_range(mobilenet_v2_real, ilsvrc_images):
    loaded = LoadedModel("mobilenet_v2", mobilenet_v2_real, "out_relu", 224, "tf", "shared")
    x = np.stack([im for im, _ in ilsvrc_images[:2]])
    t = loaded.predict(x).argmax(1)
    exp = get_explainer("advise", loaded)
    for res in _groups(exp, x, t):
        lo, hi = res.info["peak_min"], res.info["peak_max"]
        assert res.arrays["unit_scores"].shape == (1280,) and 0 <= lo <= hi <= 20
        assert len(res.maps) >= 1 and sum(c["units"] for c in res.candidates) <= 1280


def test_kde_arithmetic_does_not_change_advise(tiny_case):
    """The KDE's fast and reference arithmetics give the same unit scores, hence the same maps."""
    loaded, x = tiny_case
    fast = _groups(ADVISE(loaded, kde_arithmetic="fast"), x, [1, 2])
    ref = _groups(ADVISE(loaded, kde_arithmetic="reference"), x, [1, 2])
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(f.arrays["unit_scores"], r.arrays["unit_scores"])
        np.testing.assert_array_equal(f.maps, r.maps)
