"""Tools the tests and the checks run, kept out of scripts/ (which holds what a user runs): the backend probe
(tests/test_backends.py, scripts/gpu_check.py), the FSIM cross-check against piq (tests/test_fsim.py) and the
real-Slurm test (``make slurm-test``: slurm_test.sh, then slurm_check.py on what it ran). Each also runs as a
script from the repository root, e.g. ``python tests/tools/backend_probe.py OUT.npz``."""
