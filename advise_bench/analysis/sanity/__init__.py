"""Adebayo et al.'s (NeurIPS 2018) cascading model-parameter randomisation: do the maps depend on the weights?

The weighted layers are re-initialised from the output down, cumulatively, in a few steps; after each step
every method explains the same images for the same targets and its maps are compared with the trained
model's (Spearman, SSIM), and a verdict is drawn per series. The method is described in
docs/command-line.md#sanity. By stage: :mod:`.cascade` (which layers each step re-initialises, and how),
:mod:`.series` (every method once, ADVISE once per selection), :mod:`.run` (explaining and writing the rows,
resumable), :mod:`.statistics` (summary and verdicts), :mod:`.files` (the files, rebuilt from the rows
alone); the similarity measures are in :mod:`advise_bench.metrics.similarity`, the figure in
:mod:`advise_bench.analysis.figures`.
"""

from ...metrics.similarity import spearman, ssim
from .cascade import DEFAULT_STEPS, cascade_steps, clone_loaded, reinitialize_layer, step_label
from .files import (
    FIGURE_FILE,
    IMAGES_FILE,
    MANIFEST_FILE,
    SUMMARY_FILE,
    VERDICTS_FILE,
    load_image_rows,
    output_paths,
    write_outputs,
)
from .run import DEFAULT_CHUNK_SIZE, GUARDED_SETTINGS, sanity
from .series import ADVISE, Series, parse_selections, sanity_series
from .statistics import FAIL, MIN_IMAGES, PASS, THRESHOLD, UNDECIDED, summarize, verdicts

__all__ = [
    "ADVISE", "DEFAULT_CHUNK_SIZE", "DEFAULT_STEPS", "FAIL", "FIGURE_FILE", "GUARDED_SETTINGS", "IMAGES_FILE",
    "MANIFEST_FILE", "MIN_IMAGES", "PASS", "SUMMARY_FILE", "THRESHOLD", "UNDECIDED", "VERDICTS_FILE", "Series",
    "cascade_steps", "clone_loaded", "load_image_rows", "output_paths", "parse_selections", "reinitialize_layer",
    "sanity", "sanity_series", "spearman", "ssim", "step_label", "summarize", "verdicts", "write_outputs",
]
