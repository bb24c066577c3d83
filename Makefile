# The two Quick-start commands are `make simulate` and `make test`.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: install simulate test services lint bench bench-save bench-check bench-compare report clean fidelity

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,load]'
	touch $(STAMP)

install: $(STAMP)

## main job on embedded defaults: the default scenario, no servers needed
simulate: $(STAMP)
	$(VENV)/bin/perfcore simulate

## whole suite: lint and types, then pytest, then the short regression gate (bench-check);
## real services start and stop inside pytest.  BENCH_GATE=no leaves the gate out.
BENCH_GATE ?= yes
test: $(STAMP) services lint
	scripts/run-tests -q -ra $(PYTEST_ARGS)
	$(if $(filter yes,$(BENCH_GATE)),$(VENV)/bin/python benchmarks/gate.py check)

services:
	scripts/ensure-services

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check perfcore simulation tests benchmarks loadtests notebooks
	$(VENV)/bin/mypy perfcore simulation
	$(VENV)/bin/lint-imports

bench: $(STAMP) services
	scripts/run-tests benchmarks -q -s $(PYTEST_ARGS)

## regression gate (docs/benchmarks.md): instruction counts vs the committed baseline
bench-save: $(STAMP) services
	$(VENV)/bin/python benchmarks/gate.py save

bench-check: $(STAMP) services
	$(VENV)/bin/python benchmarks/gate.py check

## the same counts on REF's code (a git worktree) vs this tree: make bench-compare REF=main
bench-compare: $(STAMP) services
	$(VENV)/bin/python benchmarks/gate.py compare --ref "$(REF)"

## the fidelity experiment on the real stack: calibrate, capacity, 3 levels -> reports/fidelity/
fidelity: $(STAMP) services
	$(VENV)/bin/python benchmarks/fidelity.py --out reports/fidelity $(FIDELITY_ARGS)

## executed simulation report: reports/simulation_report.html
report: $(STAMP)
	$(VENV)/bin/pip install -q -e '.[notebooks]'
	$(VENV)/bin/jupytext --to ipynb notebooks/simulation_report.py -o reports/simulation_report.ipynb
	$(VENV)/bin/jupyter nbconvert --execute --to html --output-dir reports/ reports/simulation_report.ipynb

clean:
	rm -rf $(VENV) .perfcore .pytest_cache .mypy_cache .ruff_cache .benchmarks .import_linter_cache
