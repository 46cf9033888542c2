# Set-up and pipeline. `make demo` installs and runs the main job on the embedded photos; `make test` runs the suite;
# `make docs` serves the documentation (docs/, mkdocs.yml).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PRESET ?= vgg16
RESULTS = $(shell $(BIN)/python -c "from advise_bench.runner.presets import load_preset; print(load_preset('configs/$(PRESET).toml').get('out','results'))" 2>/dev/null)

.PHONY: install test lint docs docs-build demo reproduce reference reference-claims reports bench slurm-test clean

install: $(BIN)/advise-bench

$(BIN)/advise-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Two workers, one test file each at a time (module fixtures such as the ablation run are built once).
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: install
	$(BIN)/ruff check advise_bench tests scripts

demo: install
	$(BIN)/advise-bench run --config configs/demo.toml
	$(BIN)/advise-bench report results/demo --plot

# The documentation site at http://127.0.0.1:8000 (docs-build: the strict build CI runs; a broken link fails it).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve
docs-build: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# make reproduce PRESET=vgg16|resnet50|xception|alexnet|mobilenet_v2|ci
reproduce: install
	$(BIN)/advise-bench run --config configs/$(PRESET).toml --quiet
	$(BIN)/advise-bench report $(RESULTS)

# The committed reference results (docs/results/). One run writes the six methods, their shuffled controls, the
# reference maps (random, centre, keep-all) and the deletion/insertion curves together; then three ADVISE-only
# controls and the CAM-oracle control on the same images; then the report. Resumable; add SHARD=K/N to run one
# shard of every step (run the N shards side by side, then once more without SHARD for the report).
# E.g. make reference REF_MODEL=mobilenet_v2 REF_LIMIT=300
REF_MODEL ?= mobilenet
REF_LIMIT ?= 3000
REF_DIR    = results/reference/$(REF_MODEL)
REF_RUN    = $(BIN)/advise-bench run --config configs/$(REF_MODEL).toml --limit $(REF_LIMIT) --quiet \
             $(if $(SHARD),--shard $(SHARD))
ADVISE_CONTROLS = random-grouping max-peaks all-groups
CAM_ORACLE = -m gradcam,gradcam++,layercam,scorecam --cam-groups like-advise
CONTROL_RUN = $(REF_RUN) --no-reference-maps --no-shuffled-control
reference: install
	$(REF_RUN) --extra-metrics deletion,insertion --out results/reference
	$(CONTROL_RUN) -m advise --advise-grouping random --out $(REF_DIR)/controls/random-grouping
	$(CONTROL_RUN) -m advise --advise-selection max-peaks --out $(REF_DIR)/controls/max-peaks
	$(CONTROL_RUN) -m advise --advise-selection all --out $(REF_DIR)/controls/all-groups
	$(CONTROL_RUN) $(CAM_ORACLE) --out $(REF_DIR)/controls/cam-oracle
	$(BIN)/advise-bench report $(REF_DIR) --plot \
	  $(foreach c,$(ADVISE_CONTROLS) cam-oracle,--control $(REF_DIR)/controls/$(c))

# The paper's other claims on the reference images: the corrected protocol (first REF_CORRECTED_LIMIT images: one
# run of the six methods, their shuffled controls and the reference maps, then the three ADVISE controls), the noise/ReLU ablation (first REF_ABLATION_LIMIT, with the ADVISE random-grouping and CAM-oracle
# controls) and the sanity check (first REF_SANITY_LIMIT). Resumable.
REF_CORRECTED_LIMIT ?= 300
REF_ABLATION_LIMIT ?= 100
REF_SANITY_LIMIT ?= 100
CORRECTED_DIR = $(REF_DIR)/corrected
CORRECTED_RUN = $(BIN)/advise-bench run --config configs/$(REF_MODEL).toml --limit $(REF_CORRECTED_LIMIT) \
                --protocol corrected --quiet
CORRECTED_CONTROL = $(CORRECTED_RUN) --no-reference-maps --no-shuffled-control
ABLATE = $(BIN)/advise-bench ablate --model $(REF_MODEL) --subset-seed 0 --limit $(REF_ABLATION_LIMIT) --quiet \
         --densities 0,0.025,0.05,0.075,0.1,0.125,0.15,0.175,0.2,0.225
ABLATION_CONTROLS = random-grouping cam-oracle
# Under noise, the CAM oracle for Grad-CAM++ and Score-CAM only: Grad-CAM's oracle is the ADVISE random-grouping
# control exactly (the same seed gives the same groups of the same terms), and under a global-average-pooling
# head (the MobileNets) Layer-CAM's maps are Grad-CAM++'s. For a model without one, add layercam.
ABLATION_CAM_ORACLE = -m gradcam++,scorecam --cam-groups like-advise
reference-claims: install
	$(CORRECTED_RUN) --out $(CORRECTED_DIR)
	$(CORRECTED_CONTROL) -m advise --advise-grouping random --out $(CORRECTED_DIR)/controls/random-grouping
	$(CORRECTED_CONTROL) -m advise --advise-selection max-peaks --out $(CORRECTED_DIR)/controls/max-peaks
	$(CORRECTED_CONTROL) -m advise --advise-selection all --out $(CORRECTED_DIR)/controls/all-groups
	$(BIN)/advise-bench report $(CORRECTED_DIR)/$(REF_MODEL) --plot \
	  $(foreach c,$(ADVISE_CONTROLS),--control $(CORRECTED_DIR)/controls/$(c))
	$(ABLATE) --out $(REF_DIR)
	$(ABLATE) -m advise --advise-grouping random --out $(REF_DIR)/controls/random-grouping
	$(ABLATE) $(ABLATION_CAM_ORACLE) --out $(REF_DIR)/controls/cam-oracle
	$(BIN)/advise-bench ablate --summary-only --out $(REF_DIR) \
	  $(foreach c,$(ABLATION_CONTROLS),--control $(REF_DIR)/controls/$(c))
	$(BIN)/advise-bench sanity --model $(REF_MODEL) --limit $(REF_SANITY_LIMIT) --subset-seed 0 --quiet \
	  --out $(REF_DIR)/sanity

# Every committed report, ablation summary and sanity summary rebuilt from the committed rows; no model is loaded.
# The jobs run side by side, one per core.
reports: install
	$(BIN)/python scripts/rebuild_reports.py

# Every benchmark, from the repository root (as every script runs).
bench: install
	$(BIN)/python scripts/bench_kde_compare.py
	$(BIN)/python scripts/bench_advise.py
	$(BIN)/python scripts/bench_kde.py
	$(BIN)/python scripts/bench_methods.py
	$(BIN)/python scripts/bench_backends.py
	$(BIN)/python scripts/bench_run.py
	$(BIN)/python scripts/bench_fsim.py
	$(BIN)/python scripts/bench_faithfulness.py

# A real one-node Slurm on localhost (installs slurm-wlm and munge with apt-get if absent; needs root).
slurm-test: install
	bash tests/tools/slurm_test.sh

clean:
	rm -rf results/demo results/ci .pytest_cache site
