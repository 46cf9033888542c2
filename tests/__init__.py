# A package, so that `-m tests.example_pkg.gradient_input:GradientTimesInput` imports this folder's example and not
# the top-level `tests` package that tf-keras-vis installs into site-packages.
