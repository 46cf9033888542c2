"""Analyses beyond Table I: the noise/ReLU ablation (paper Fig. 5), Adebayo et al.'s model-parameter
randomisation sanity check, and a one-image figure of every method's map (``advise-bench show``)."""
