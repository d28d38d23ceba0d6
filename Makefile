# Two commands for a newcomer: `make run` (set up and run wirewatch) and `make test` (set up and test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit unit-python pythons lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("wirewatch needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test,fulltext]"
	$(BIN)/python -c 'from streams.pipeline import warm_up; warm_up()'  # compile the numba kernels, build the gazetteer index: once
	touch $(STAMP)

run: $(STAMP)
	deploy/dev/ensure-tools.sh run
	$(BIN)/wirewatch run

test: $(STAMP)
	deploy/dev/ensure-tools.sh test
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

unit-python: $(STAMP)  # the unit suite on the pure-Python reference (no compiled kernel)
	WIREWATCH_IMPL=python $(BIN)/python -m pytest -q tests/unit

pythons:  # the unit suite on Python 3.12 and 3.13 (pyenv), each in its own .venv-pyX.Y
	.ci/pythons

lint: $(STAMP)
	$(BIN)/ruff check streams connectors tests bench
	$(BIN)/python deploy/dev/check-layout.py
	$(BIN)/mypy streams connectors
	@if command -v amtool >/dev/null 2>&1; then amtool check-config deploy/alertmanager/alertmanager.yml; \
	  else echo "lint: amtool missing (deploy/dev/ensure-tools.sh test installs it)" >&2; exit 1; fi

bench: $(STAMP)
	$(BIN)/python bench/quality_dedup.py
	$(BIN)/python bench/quality_story.py
	$(BIN)/python bench/quality_escalation.py

clean:
	rm -rf $(VENV) .venv-py3.* .pytest_cache .ruff_cache .mypy_cache
