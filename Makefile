# Set-up and pipeline. `make demo` installs and runs the main job on the embedded photos; `make test` runs the suite.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PRESET ?= vgg16
RESULTS = $(shell $(BIN)/python -c "from advise_bench.runner.presets import load_preset; print(load_preset('configs/$(PRESET).toml').get('out','results'))" 2>/dev/null)

.PHONY: install test lint demo reproduce bench slurm-test clean

install: $(BIN)/advise-bench

$(BIN)/advise-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check advise_bench tests scripts

demo: install
	$(BIN)/advise-bench run --config configs/demo.toml
	$(BIN)/advise-bench report results/demo

# make reproduce PRESET=vgg16|resnet50|xception|alexnet|mobilenet_v2|ci
reproduce: install
	$(BIN)/advise-bench run --config configs/$(PRESET).toml --quiet
	$(BIN)/advise-bench report $(RESULTS)

bench: install
	cd scripts && ../$(BIN)/python bench_advise.py
	cd scripts && ../$(BIN)/python bench_kde.py
	cd scripts && ../$(BIN)/python bench_methods.py
	cd scripts && ../$(BIN)/python bench_run.py
	cd scripts && ../$(BIN)/python bench_fsim.py
	cd scripts && ../$(BIN)/python bench_faithfulness.py

# A real one-node Slurm on localhost (installs slurm-wlm and munge with apt-get if absent; needs root).
slurm-test: install
	bash scripts/slurm_test.sh

clean:
	rm -rf results/demo results/ci .pytest_cache
