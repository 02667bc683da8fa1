SHELL := /bin/bash
# The two commands of the README: `make run` and `make test`. Both create the virtual
# environment in .venv on first use (and again when the dependencies change).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LAYERS := drivers zigbee emulator firmware updates data gui

.PHONY: run test lint typecheck pytest bench package smoke clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/bridgelab $(ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy does not follow setuptools' editable-install mapping, so it checks a tree of
# symlinks that has the installed shape (bridgelab/drivers -> drivers, ...); the sed
# turns its paths back into the folders you edit.
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/bridgelab
	ln -s $(CURDIR)/bridgelab/* build/typecheck/bridgelab/
	for layer in $(LAYERS); do ln -s $(CURDIR)/$$layer build/typecheck/bridgelab/$$layer; done
	cd build/typecheck && ../../$(BIN)/mypy --cache-dir ../../.mypy_cache -p bridgelab 2>&1 \
		| sed -E 's#^bridgelab/($(shell echo $(LAYERS) | tr ' ' '|'))/#\1/#'; \
		exit $${PIPESTATUS[0]}

# QT_QPA_PLATFORM=offscreen: tests open real Qt widgets with no display. The tests run in
# one worker process per core (pytest-xdist); PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= auto
pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The Linux bundle, its .tar.gz and its .deb in dist/, from a build venv of their own
# (build/package-venv); see packaging/README.md. Not part of `make test`.
package:
	$(PYTHON) packaging/build_linux.py

# The release check of what `make package` built (extracted tarball; add
# SMOKE_ARGS=--deb to install the .deb too, as root).
smoke:
	$(PYTHON) packaging/smoke_test.py dist $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
