"""The result row's columns, declared once: name, type, what it holds and, for a metric, its direction.

``run`` and ``score`` build every row with :func:`make_row` (declared columns only, in the declared order, so every
CSV has the same header); the report and the analyses read the columns through the names and helpers here.
A method may add its own columns (:data:`METHOD_COLUMNS` declares the built-in ones; a plugin's ``Explanation.info``
keys are written after them, undeclared).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .metrics.core import METRICS, MetricInfo


@dataclass(frozen=True)
class Column:
    name: str
    type: type  # str, int, float or bool; a cell may be empty (not measured, or an error row)
    description: str

    @property
    def metric(self) -> MetricInfo | None:
        """The metric's declaration (its direction and range) where the column is one of :data:`METRICS`."""
        return METRICS.get(self.name)


def _columns(*specs: tuple[str, type, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


IDENTITY_COLUMNS = _columns(
    ("image_id", str, "the image's id in its data source"),
    ("file", str, "the image file (shared data as ${SHARED}/...)"),
    ("label", str, "the ground-truth class, where the data source has one"),
    ("method", str, "the method, reference map or shuffled control (method_kinds.py)"),
    ("model", str, "the zoo model or model file"),
    ("protocol", str, "reference | corrected"),
    ("device", str, "the device that ran the method"),
    ("backend", str, "the Keras backend"),
    ("shard", str, "K/N: the shard that wrote the row"),
    ("fingerprint", str, "the numerics fingerprint of the machine and process (runner/fingerprint.py)"),
)
PREDICTION_COLUMNS = _columns(
    ("top5", str, "the model's top-5 classes on the image, ;-separated"),
    ("top5_probs", str, "their probabilities"),
    ("target", int, "the class the scored map explains (top-1, or score --targets)"),
    ("target2", int, "the class of the second map, for Class Sensitivity"),
)
TIME_ROW_COLUMNS = _columns(
    ("time_s", float, "seconds for the top-1 map (empty: not measured)"),
    ("time_top2_s", float, "seconds for the top-2 map"),
)
SCORE_COLUMNS = _columns(
    ("AD", float, METRICS["AD"].description),
    ("SSIM", float, METRICS["SSIM"].description),
    ("FSIM", float, METRICS["FSIM"].description),
    ("MSE", float, METRICS["MSE"].description),
    ("AVX", float, METRICS["AVX"].description),
    ("CS_r", float, "Pearson r of the top-1 and top-2 maps"),
    ("CS_pass", bool, METRICS["CS"].description),
    ("Hit", bool, METRICS["Hit"].description),
    ("penalty", str, "none | scaled | zeroed: the protocol's penalty of a miss"),
    ("penalty_d", float, "the factor a scaled miss multiplied the metrics by"),
    ("blank_mask", bool, "the masked image is black everywhere"),
    ("raw_AD", float, "AD before the penalty"),
    ("raw_SSIM", float, "SSIM before the penalty"),
    ("raw_FSIM", float, "FSIM before the penalty"),
    ("raw_MSE", float, "MSE before the penalty"),
)
EXTRA_METRIC_COLUMNS = _columns(  # run --extra-metrics
    ("deletion_auc", float, METRICS["deletion_auc"].description),
    ("insertion_auc", float, METRICS["insertion_auc"].description),
)
METHOD_COLUMNS = _columns(  # Explanation.info and Selection.info of the built-in methods
    ("peak_min", int, "ADVISE: the fewest KDE peaks of a unit"),
    ("peak_max", int, "ADVISE: the most KDE peaks of a unit"),
    ("groups", int, "candidate maps: ADVISE's groups of units with equal peak counts"),
    ("kde_s", float, "ADVISE: seconds of the KDE, within time_s"),
    ("selected_peaks", str, "ADVISE: the peak count of the selected group (all: every group)"),
    ("selected_group", str, "a grouped CAM control: the selected group"),
    ("selection", str, "how the map was selected among the candidates"),
)
STATUS_COLUMNS = _columns(
    ("status", str, "ok | error | degenerate_image | degenerate_map (metrics.core.STATUSES)"),
    ("error", str, "the one-line reason of a row that is not ok"),
)
ROW_COLUMNS: tuple[Column, ...] = (IDENTITY_COLUMNS + PREDICTION_COLUMNS + TIME_ROW_COLUMNS + SCORE_COLUMNS
                                   + EXTRA_METRIC_COLUMNS + METHOD_COLUMNS + STATUS_COLUMNS)
COLUMNS: dict[str, Column] = {c.name: c for c in ROW_COLUMNS}

# The columns of a candidate row (<method>_groups.csv): the image, the candidate's metadata, these scores.
CANDIDATE_METRICS = ("AD", "SSIM", "FSIM", "MSE", "AVX", "CS_r", "Hit", "penalty")
# Table I's metrics, the opt-in ones (reported when the rows carry them) and the rates beside them.
TABLE_METRICS = ("AD", "SSIM", "FSIM", "MSE", "AVX")
OPTIONAL_METRICS = tuple(c.name for c in EXTRA_METRIC_COLUMNS)
EXTRA_RATES = ("Hit", "CS_pass")


def make_row(**values) -> dict:
    """A result row: the declared columns given, in the declared order, then a plugin's own columns (any
    undeclared name) before ``status`` and ``error``. Order matters: a file's header is its first row's."""
    declared = {c.name: values.pop(c.name) for c in ROW_COLUMNS if c.name in values}
    status = {c.name: declared.pop(c.name) for c in STATUS_COLUMNS if c.name in declared}
    return {**declared, **values, **status}


def metric_columns(rows: pd.DataFrame) -> tuple[str, ...]:
    """Table I's metrics, then the opt-in ones that any row carries."""
    extra = tuple(m for m in OPTIONAL_METRICS if m in rows and pd.to_numeric(rows[m], errors="coerce").notna().any())
    return TABLE_METRICS + extra


def numeric(rows: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (True/False as 1/0; NaN where absent), so old result folders still report."""
    if column not in rows:
        return pd.Series(float("nan"), index=rows.index, dtype=float)
    values = rows[column]
    if values.dtype == object:
        values = values.replace({"True": 1.0, "False": 0.0, True: 1.0, False: 0.0})
    return pd.to_numeric(values, errors="coerce").astype(float)
