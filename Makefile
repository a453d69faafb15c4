# Two commands on a fresh machine: `make demo` (install + read a shipped sample) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= samples/plain_480p.mp4

.PHONY: install demo test soak bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: install
	$(BIN)/livedigits run $(DEMO) --no-display --output demo.mp4 --json demo.jsonl

test: install
	$(BIN)/ruff check livedigits tests benchmarks
	$(BIN)/mypy livedigits
	$(BIN)/python -m pytest -q

soak: install
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider tests

bench: install
	$(BIN)/python benchmarks/bench.py --json benchmarks/results.json --plot benchmarks/cost_curve.png

lint: install
	$(BIN)/ruff check livedigits tests benchmarks
	$(BIN)/mypy livedigits

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache demo.mp4 demo.jsonl
