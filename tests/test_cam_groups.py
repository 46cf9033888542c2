"""``--cam-groups like-advise``: every CAM method's channels split at random into groups of ADVISE's sizes,
one candidate map per group, the best AVX kept (the oracle control)."""

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.explainers import get_explainer
from advise_bench.explainers.base import finalize_maps
from advise_bench.explainers.kde import unit_peak_counts

CAMS = ("gradcam", "gradcam++", "layercam", "scorecam")


def _explanations(method, loaded, x, targets, **options):
    return get_explainer(method, loaded, groups="like-advise", **options).explain_candidates(x, targets)


@pytest.mark.parametrize("method", CAMS)
def test_groups_have_advises_sizes_and_are_seeded(tiny_case, method):
    loaded, x = tiny_case
    explainer = get_explainer(method, loaded, groups="like-advise", seed=4)
    prepared = explainer.prepare(x)
    for acts, labels in zip(prepared.acts, prepared.labels, strict=True):
        kde = unit_peak_counts(acts.reshape(-1, acts.shape[-1]).T.astype(np.float64))  # ADVISE's scores
        assert sorted(np.unique(kde, return_counts=True)[1]) == sorted(np.unique(labels, return_counts=True)[1])
        np.testing.assert_array_equal(np.sort(labels), np.sort(kde))
    again = get_explainer(method, loaded, groups="like-advise", seed=4).prepare(x).labels
    assert all(np.array_equal(a, b) for a, b in zip(prepared.labels, again, strict=True))
    others = [get_explainer(method, loaded, groups="like-advise", seed=s).prepare(x).labels[0] for s in range(5, 10)]
    assert any(not np.array_equal(prepared.labels[0], o) for o in others)


@pytest.mark.parametrize("method", CAMS)
def test_each_candidate_is_the_cam_of_its_channels(tiny_case, method):
    loaded, x = tiny_case
    explainer = get_explainer(method, loaded, groups="like-advise", seed=2)
    prepared = explainer.prepare(x)
    terms = explainer.channel_terms(prepared, np.array([1, 3]))
    rows = explainer.explain_candidates(x, [1, 3])
    for i, (row,) in enumerate(rows):
        labels = prepared.labels[i]
        assert sum(c["units"] for c in row.candidates) <= len(labels)
        assert [c["group"] for c in row.candidates] == sorted(c["group"] for c in row.candidates)
        for c, m in zip(row.candidates, row.maps, strict=True):
            members = labels == c["group"]
            assert c["units"] == members.sum()
            low = np.maximum(terms[i][..., members].sum(-1), 0)  # independent of group_maps
            np.testing.assert_allclose(m, finalize_maps(low[None], 12)[0], atol=1e-5)
        # The ungrouped method's map is the map of all channels together.
        whole = get_explainer(method, loaded)(x[i : i + 1], [[1, 3][i]])[0]
        np.testing.assert_allclose(whole, finalize_maps(np.maximum(terms[i].sum(-1), 0)[None], 12)[0], atol=1e-5)


def test_gradcam_over_like_advise_groups_is_advise_with_random_grouping(tiny_case):
    """Grad-CAM's terms are ADVISE's (alpha_k A^k), and both permute the same peak counts with the same
    seed: the two controls must give the same candidates and the same selected map."""
    loaded, x = tiny_case
    targets = np.array([[1, 2], [4, 0]])
    cam = get_explainer("gradcam", loaded, groups="like-advise", seed=7)
    advise = get_explainer("advise", loaded, grouping="random", seed=7, selection="max-peaks")
    for c_row, a_row in zip(cam.explain_candidates(x, targets), advise.explain_candidates(x, targets), strict=True):
        for c, a in zip(c_row, a_row, strict=True):
            assert [m["group"] for m in c.candidates] == [m["peaks"] for m in a.candidates]
            assert [m["units"] for m in c.candidates] == [m["units"] for m in a.candidates]
            np.testing.assert_allclose(c.maps, a.maps, atol=1e-5)


def test_the_oracle_keeps_the_best_avx_candidate_with_its_top2_counterpart(tiny_case):
    loaded, x = tiny_case
    explainer = get_explainer("layercam", loaded, groups="like-advise", seed=1)
    top1, top2 = explainer.explain_candidates(x[:1], [[2, 0]])[0]
    assert len(top1.maps) >= 2, "the tiny case must offer a choice"
    # A hand-made scorer: AVX is the mean of the top-1 map, so the brightest candidate must win.
    seen = []

    def scorer(maps):
        seen.append(maps)
        return {"AVX": float(maps[0].mean())}

    sel = explainer.select([top1, top2], scorer)
    best = int(np.argmax([m.mean() for m in top1.maps]))
    assert len(seen) == len(top1.maps)
    np.testing.assert_array_equal(sel.maps[0], top1.maps[best])
    group = top1.candidates[best]["group"]
    assert sel.info == {"selected_group": group, "selection": "oracle-avx"}
    match = [j for j, c in enumerate(top2.candidates) if c["group"] == group]
    np.testing.assert_array_equal(sel.maps[1], top2.maps[match[0]] if match else np.zeros_like(sel.maps[1]))
    with pytest.raises(UserError, match="scorer"):
        explainer.select([top1, top2], None)


def test_bad_grouping_and_ungrouped_default(tiny_case):
    loaded, x = tiny_case
    with pytest.raises(UserError, match="CAM grouping"):
        get_explainer("gradcam", loaded, groups="kde")
    plain = get_explainer("scorecam", loaded)
    assert plain.candidate_key is None and plain.prepare(x).labels is None
    assert [len(e.maps) for e in plain.explain_candidates(x, [0, 1])[0]] == [1]
