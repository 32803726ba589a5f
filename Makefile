# The two commands a newcomer needs:  `make run`  (set up, start the local stack, run the main job)
# and  `make test`  (set up, run the whole suite; the tests start the services they need).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint bench eval stack-down clean

$(BIN)/marsad: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/marsad

run: setup
	$(BIN)/marsad demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/extract_bench.py
	$(BIN)/python benchmarks/pipeline_bench.py

eval: setup
	../shared/eval/run.sh $(BIN)/marsad extract

stack-down: setup
	$(BIN)/marsad stack down

clean:
	rm -rf $(VENV) .stack .pytest_cache .ruff_cache .mypy_cache
