"""The numbers the findings prose quotes (README and docs/results/) are read here from the committed tables, so the
words and the files cannot drift apart: each claim is a phrase that must appear in its page, built from the files.

Pages are compared with their whitespace collapsed and "−" and "–" read as "-", so line breaks and typography do not
matter; the numbers do.
"""

import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
MAIN = "main ADVISE"
RANDOM = "ADVISE (random grouping, oracle-avx)"
MAX_PEAKS = "ADVISE (kde grouping, max-peaks)"
ALL = "ADVISE (kde grouping, all)"

pytestmark = pytest.mark.skipif(not (REFERENCE / "mobilenet" / "table1.csv").exists(),
                                reason="no committed reference results")


@cache
def _csv(relative: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / relative, dtype={"image_id": str})


@cache
def page(name: str) -> str:
    text = (ROOT / name).read_text().replace("−", "-").replace("–", "-")
    return re.sub(r"\s+", " ", text)


def d(x: float) -> str:
    """A signed difference, three decimals: +0.095."""
    return f"{x:+.3f}"


def ci(row) -> str:
    """A difference with its CI: +0.095 [+0.090, +0.101]."""
    return f"{d(row['mean_diff'])} [{d(row['ci_low'])}, {d(row['ci_high'])}]"


def comparison(folder: str, metric: str, baseline: str):
    c = _csv(f"{folder}/comparisons.csv")
    return c[(c["metric"] == metric) & (c["baseline"] == baseline)].iloc[0]


def control(folder: str, control_label: str, metric: str, subject: str, baseline: str):
    c = _csv(f"{folder}/controls.csv")
    return c[(c["control"] == control_label) & (c["metric"] == metric) & (c["subject"] == subject)
             & (c["baseline"] == baseline)].iloc[0]


def main_vs(folder: str, control_label: str, metric: str = "AVX"):
    """Main ADVISE − a control."""
    return control(folder, control_label, metric, MAIN, control_label)


def table1(folder: str, method: str, column: str) -> float:
    t = _csv(f"{folder}/table1.csv")
    return float(t.loc[t["method"] == method, column].iloc[0])


def rows_in(folder: str, pattern: str) -> int:
    return sum(len(pd.read_csv(f)) for f in (REFERENCE / folder).glob(pattern))


def equal_metric_images(folder: str, a: str = "gradcampp", b: str = "layercam") -> tuple[int, int]:
    """Images on which two methods' Table I metrics (and CS verdicts) are equal, of all images."""
    def load(method):
        files = [*(REFERENCE / folder).glob(f"{method}.csv"), *(REFERENCE / folder).glob(f"{method}.shard-*.csv")]
        frames = [pd.read_csv(f, dtype={"image_id": str}) for f in sorted(files)]
        return pd.concat(frames).set_index("image_id")

    x, y = load(a), load(b)
    columns = ["AD", "SSIM", "FSIM", "MSE", "AVX", "CS_pass"]
    same = (x[columns] == y.loc[x.index, columns]).all(axis=1)
    return int(same.sum()), len(same)


def sanity(model: str, series: str) -> pd.Series:
    s = _csv(f"{model}/sanity/sanity_verdicts.csv")
    return s[s["series"] == series].iloc[0]


def ablation_range(model: str, method: str, relu: bool = True) -> str:
    a = _csv(f"{model}/ablation/ablation_avx.csv")
    avx = a[(a["method"] == method) & (~a["control"]) & (a["relu"] == relu)]["AVX"]
    return f"{avx.min():.2f}-{avx.max():.2f}"


def vs_random(folder: str, method: str, metric: str = "AVX"):
    """A method − the random reference map (chance.csv)."""
    c = _csv(f"{folder}/chance.csv")
    return c[(c["metric"] == metric) & (c["method"] == method) & (c["against"] == "chance")].iloc[0]


def median_vs_random(folder: str, metric: str = "AVX") -> str:
    v = _csv(f"{folder}/validity.csv").set_index("metric").loc[metric]
    return f"{d(v['median_mean_diff'])} [{d(v['median_ci_low'])}, {d(v['median_ci_high'])}]"


def vs_shuffled(folder: str, method: str, metric: str = "AVX"):
    """A method − its shuffled control (chance.csv)."""
    c = _csv(f"{folder}/chance.csv")
    return c[(c["metric"] == metric) & (c["method"] == method) & (c["against"] == "shuffled")].iloc[0]


MN, V2, CORRECTED = "mobilenet", "mobilenet_v2", "mobilenet/corrected/mobilenet"
CAM_ORACLE_SCORECAM = "Score-CAM (like-advise groups, oracle-avx)"
CAM_ORACLE_GRADCAMPP = "Grad-CAM++ (like-advise groups, oracle-avx)"

# (page, phrase built from the committed files)
CLAIMS = {
    # Placement: the one-run set with the shuffled controls and the faithfulness curves
    "readme: ADVISE - shuffled": ("README.md", lambda: f"shuffled map on AVX (ADVISE {ci(vs_shuffled(MN, 'ADVISE'))})"),
    "readme: centre's deletion AUC": (
        "README.md", lambda: f"beats every method ({table1(MN, 'Centre', 'deletion_auc'):.3f})"),
    "readme: ADVISE - shuffled, corrected": (
        "README.md", lambda: f"(ADVISE {ci(vs_shuffled(CORRECTED, 'ADVISE'))} AVX)"),
    "readme: ADVISE - shuffled, MobileNetV2": (
        "README.md", lambda: f"(ADVISE − shuffled {ci(vs_shuffled(V2, 'ADVISE'))} AVX; `centre` best on\n"
                             f"  deletion, {table1(V2, 'Centre', 'deletion_auc'):.3f})"),
    "mobilenet_v2: centre's deletion AUC": (
        "docs/results/mobilenet_v2.md", lambda: f"best map of all ({table1(V2, 'Centre', 'deletion_auc'):.3f}; Score-CAM"),
    "mobilenet: Score-CAM - shuffled": (
        "docs/results/mobilenet.md", lambda: f"Score-CAM's {ci(vs_shuffled(MN, 'Score-CAM'))}"),
    "mobilenet: ADVISE - shuffled on deletion": (
        "docs/results/mobilenet.md", lambda: f"of the CAMs' ({ci(vs_shuffled(MN, 'ADVISE', 'deletion_auc'))}"),
    "mobilenet: random's AVX beside the shuffled maps": (
        "docs/results/mobilenet.md", lambda: f"`random` {table1(MN, 'Random', 'AVX'):.3f})"),
    # Chance level (README and the results pages)
    "readme: random's AVX, MobileNet 0.25": ("README.md", lambda: f"scores AVX {table1(MN, 'Random', 'AVX'):.3f}"),
    "readme: ADVISE - random, MobileNet 0.25": (
        "README.md", lambda: f"ADVISE - random {ci(vs_random(MN, 'ADVISE'))}"),
    "readme: ADVISE - random, MobileNetV2": ("README.md", lambda: f"level with noise ({ci(vs_random(V2, 'ADVISE'))})"),
    "readme: ADVISE - random, corrected": ("README.md", lambda: f"ADVISE does not ({ci(vs_random(CORRECTED, 'ADVISE'))})"),
    "mobilenet: Score-CAM - random": (
        "docs/results/mobilenet.md", lambda: f"the best method, {ci(vs_random(MN, 'Score-CAM'))}"),
    "mobilenet: random's Hit": ("docs/results/mobilenet.md", lambda: f"(random {table1(MN, 'Random', 'Hit'):.3f};"),
    "mobilenet_v2: random's AVX": (
        "docs/results/mobilenet_v2.md", lambda: f"`random` scores AVX {table1(V2, 'Random', 'AVX'):.3f}"),
    "other claims: median method - random, corrected": (
        "docs/results/other-claims.md", lambda: f"on AVX by {median_vs_random(CORRECTED)}"),
    "other claims: Score-CAM - random, corrected": (
        "docs/results/other-claims.md", lambda: f"(Score-CAM {ci(vs_random(CORRECTED, 'Score-CAM'))})"),
    # README, headline findings
    "readme: ADVISE - Score-CAM on AVX, MobileNet 0.25": (
        "README.md", lambda: f"Score-CAM {ci(comparison(MN, 'AVX', 'Score-CAM'))})"),
    "readme: ADVISE - Grad-CAM on AVX, MobileNetV2": (
        "README.md", lambda: f"on AVX ({ci(comparison(V2, 'AVX', 'Grad-CAM'))})"),
    "readme: KDE vs random grouping": (
        "README.md", lambda: f"within {main_vs(MN, RANDOM)['mean_diff']:.3f} AVX"),
    "readme: Score-CAM with the oracle": (
        "README.md", lambda: f"by {-main_vs(MN, CAM_ORACLE_SCORECAM)['mean_diff']:.3f} AVX"),
    "readme: corrected protocol": (
        "README.md", lambda: f"ADVISE - Score-CAM is {d(comparison(CORRECTED, 'AVX', 'Score-CAM')['mean_diff'])} AVX"),
    "readme: sanity": (
        "README.md", lambda: f"Spearman {sanity(MN, 'advise (max-peaks)')['spearman_full_cascade']:.3f}"),
    "readme: noise": ("README.md", lambda: f"({ablation_range(MN, 'advise')} with ReLU at every density)"),
    # MobileNet 0.25
    "mobilenet: unsharded rows": (
        "docs/results/mobilenet.md", lambda: f"The first {rows_in(MN, 'advise.csv'):,} images"),
    "mobilenet: shard rows": (
        "docs/results/mobilenet.md", lambda: f"The other {rows_in(MN, 'advise.shard-*-of-2.csv'):,} ran"),
    "mobilenet: shard 0 rows": (
        "docs/results/mobilenet.md", lambda: f"`*.shard-0-of-2.csv` {rows_in(MN, 'advise.shard-0-of-2.csv'):,} rows"),
    "mobilenet: ADVISE vs Score-CAM AVX": (
        "docs/results/mobilenet.md",
        lambda: f"AVX: {table1(MN, 'ADVISE', 'AVX'):.3f} against {table1(MN, 'Score-CAM', 'AVX'):.3f}, "
                f"{ci(comparison(MN, 'AVX', 'Score-CAM'))}"),
    "mobilenet: random grouping": (
        "docs/results/mobilenet.md",
        lambda: f"gives AVX {main_vs(MN, RANDOM)['baseline_mean']:.3f} against {table1(MN, 'ADVISE', 'AVX'):.3f}"),
    "mobilenet: main - random grouping": (
        "docs/results/mobilenet.md", lambda: f"main - control {ci(main_vs(MN, RANDOM))}, Holm p "
                                             f"{main_vs(MN, RANDOM)['holm_p']:.3f}"),
    "mobilenet: max-peaks": (
        "docs/results/mobilenet.md", lambda: f"scores AVX {main_vs(MN, MAX_PEAKS)['baseline_mean']:.3f}"),
    "mobilenet: all groups": (
        "docs/results/mobilenet.md", lambda: f"(`all`) score {main_vs(MN, ALL)['baseline_mean']:.3f}"),
    "mobilenet: Grad-CAM++ = Layer-CAM count": (
        "docs/results/mobilenet.md",
        lambda: "equal on {:,} of the {:,} images".format(*equal_metric_images(MN))),
    "methods: Grad-CAM++ = Layer-CAM count": (
        "docs/methods.md", lambda: "equal on {:,} of {:,} images".format(*equal_metric_images(MN))),
    # MobileNetV2
    "mobilenet_v2: random grouping against ADVISE": (
        "docs/results/mobilenet_v2.md",
        lambda: f"the control scores AVX {main_vs(V2, RANDOM)['baseline_mean']:.3f} against ADVISE's "
                f"{table1(V2, 'ADVISE', 'AVX'):.3f}"),
    "mobilenet_v2: main - random grouping": (
        "docs/results/mobilenet_v2.md", lambda: f"main - control {ci(main_vs(V2, RANDOM))}"),
    "mobilenet_v2: ADVISE - Grad-CAM": (
        "docs/results/mobilenet_v2.md", lambda: f"(AVX {ci(comparison(V2, 'AVX', 'Grad-CAM'))};"),
    "mobilenet_v2: ADVISE - Grad-CAM++": (
        "docs/results/mobilenet_v2.md", lambda: f"difference is {ci(comparison(V2, 'AVX', 'Grad-CAM++'))}"),
    "mobilenet_v2: max-peaks": (
        "docs/results/mobilenet_v2.md", lambda: f"scores AVX {main_vs(V2, MAX_PEAKS)['baseline_mean']:.3f}"),
    "mobilenet_v2: all groups": (
        "docs/results/mobilenet_v2.md", lambda: f"(`all`) score {main_vs(V2, ALL)['baseline_mean']:.3f}"),
    "mobilenet_v2: Grad-CAM++ = Layer-CAM count": (
        "docs/results/mobilenet_v2.md",
        lambda: "equal metrics on {:,} of the {:,} images".format(*equal_metric_images(V2))),
    # The paper's other claims
    "corrected: ADVISE - Grad-CAM++ on AVX": (
        "docs/results/other-claims.md", lambda: f"(= Layer-CAM) {ci(comparison(CORRECTED, 'AVX', 'Grad-CAM++'))}"),
    "corrected: ADVISE - Score-CAM on AVX": (
        "docs/results/other-claims.md", lambda: f"ADVISE - Score-CAM {ci(comparison(CORRECTED, 'AVX', 'Score-CAM'))}"),
    "corrected: Score-CAM better on MSE": (
        "docs/results/other-claims.md", lambda: f"ADVISE - Score-CAM {ci(comparison(CORRECTED, 'MSE', 'Score-CAM'))}"),
    "corrected: Grad-CAM++ level on MSE": (
        "docs/results/other-claims.md", lambda: f"ADVISE ({ci(comparison(CORRECTED, 'MSE', 'Grad-CAM++'))}"),
    "cam oracle: Score-CAM row": (
        "docs/results/other-claims.md",
        lambda: f"| Score-CAM | {control(MN, CAM_ORACLE_SCORECAM, 'AVX', CAM_ORACLE_SCORECAM, 'Score-CAM')['subject_mean']:.3f}"
                f" | {ci(control(MN, CAM_ORACLE_SCORECAM, 'AVX', CAM_ORACLE_SCORECAM, 'Score-CAM'))}, significant | "
                f"{ci(main_vs(MN, CAM_ORACLE_SCORECAM))}"),
    "cam oracle: Grad-CAM++ row": (
        "docs/results/other-claims.md",
        lambda: f"| {main_vs(MN, CAM_ORACLE_GRADCAMPP)['baseline_mean']:.3f} | "
                f"{ci(control(MN, CAM_ORACLE_GRADCAMPP, 'AVX', CAM_ORACLE_GRADCAMPP, 'Grad-CAM++'))}, significant | "
                f"{ci(main_vs(MN, CAM_ORACLE_GRADCAMPP))}"),
    "sanity: ADVISE max-peaks": (
        "docs/results/other-claims.md",
        lambda: "| ADVISE (max-peaks) | {:.3f} [{:.3f}, {:.3f}] | {:.3f} [{:.3f}, {:.3f}] | pass |".format(
            *sanity(MN, "advise (max-peaks)")[["spearman_first_step"]].tolist(), *_step1_ci(MN, "advise (max-peaks)"),
            *sanity(MN, "advise (max-peaks)")[["spearman_full_cascade", "spearman_full_cascade_ci_low",
                                               "spearman_full_cascade_ci_high"]].tolist())),
}


def _step1_ci(model: str, series: str) -> list[float]:
    s = _csv(f"{model}/sanity/sanity.csv")
    row = s[(s["series"] == series) & (s["step"] == 1)].iloc[0]
    return [row["spearman_ci_low"], row["spearman_ci_high"]]


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_the_prose_quotes_the_committed_tables(claim):
    name, phrase = CLAIMS[claim]
    expected = re.sub(r"\s+", " ", phrase().replace("−", "-"))
    assert expected in page(name), f"{name} should say {expected!r}"


def test_the_claims_cover_every_findings_page():
    assert {name for name, _ in CLAIMS.values()} >= {"README.md", "docs/results/mobilenet.md",
                                                     "docs/results/mobilenet_v2.md", "docs/results/other-claims.md"}


# The tables of each method against its shuffled self, (page, metrics): each model's page under the reference
# protocol (with the faithfulness curves), other-claims.md's under the corrected protocol (the metrics that pass
# its chance test)
SHUFFLED_TABLES = {MN: ("docs/results/mobilenet.md", ("AVX", "deletion_auc", "insertion_auc")),
                   V2: ("docs/results/mobilenet_v2.md", ("AVX", "deletion_auc", "insertion_auc")),
                   CORRECTED: ("docs/results/other-claims.md", ("AVX", "AD", "Hit"))}


def shuffled_table_rows(folder: str = MN) -> list[str]:
    """The rows of a page's table of each method against its shuffled self, built from chance.csv."""
    c = _csv(f"{folder}/chance.csv")
    c = c[c["against"] == "shuffled"]
    rows = []
    for method in dict.fromkeys(c["method"]):
        cells = []
        for metric in SHUFFLED_TABLES[folder][1]:
            r = c[(c["method"] == method) & (c["metric"] == metric)].iloc[0]
            cells += [f"{r['subject_mean']:.3f} / {r['reference_mean']:.3f}", f"{ci(r)} {r['verdict']}"]
        rows.append(f"| {method} | " + " | ".join(cells).replace("-", "−") + " |")
    return rows


@pytest.mark.parametrize("folder", list(SHUFFLED_TABLES))
def test_the_shuffled_tables_are_the_committed_ones(folder):
    name = SHUFFLED_TABLES[folder][0]
    text = (ROOT / name).read_text()
    for row in shuffled_table_rows(folder):
        assert row in text, f"{name} should have the row {row!r}"


VALIDITY_ROW = re.compile(r"^\| \S+ [↑↓] \| (passes|fails|chance test)")


def test_every_validity_row_quoted_in_the_docs_is_a_committed_reports():
    """A metric-validity row in a findings page is copied from a committed report.md, never typed."""
    reported = {line for report in REFERENCE.glob("**/report.md") for line in report.read_text().splitlines()}
    quoted = [(name, line) for name in ("README.md", *(f"docs/results/{p.name}" for p in
                                                         (ROOT / "docs/results").glob("*.md")))
              for line in (ROOT / name).read_text().splitlines() if VALIDITY_ROW.match(line)]
    assert len(quoted) >= 25
    assert [q for q in quoted if q[1] not in reported] == []
