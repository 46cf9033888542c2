"""An example advise-bench plugin (README, "Your own method"): gradient x input, in :mod:`.gradient_input`."""
