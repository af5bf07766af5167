# gradbook: the front door.
#   make html   create .venv when missing, then build the site into docs/_build/html
#   make test   install what the tests need (same way), then run pytest
# Re-running a target when the environment is complete installs nothing: each extra
# has a stamp in .venv that is newer than pyproject.toml and constraints.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# -j auto: Sphinx reads and writes the pages in one process per core (a cold build on
# 2 cores: 66 s instead of 113 s); sphinx-gallery runs the tutorials two at a time itself
SPHINXOPTS ?= -W --keep-going -j auto
SOURCEDIR  := docs
BUILDDIR   := docs/_build

.PHONY: help html html-noplot livehtml test test-fast bench lint clean browser

help:
	@echo "make html         build the site (executes every tutorial) into $(BUILDDIR)/html"
	@echo "make html-noplot  build the layout without executing the tutorials"
	@echo "make livehtml     rebuild and reload in the browser on every change"
	@echo "make test         run the test suite (unit tests, site builds, browser, notebooks)"
	@echo "make test-fast    run the package's unit tests only"
	@echo "make bench        run the benchmarks in benchmarks/"
	@echo "make lint         ruff check and format check"
	@echo "make clean        remove everything the build generated"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per extra. `pip install -c constraints.txt` pins torch to the CPU wheel.
# pip byte-compiles what it installs one file at a time; compileall does it on every
# core (a fresh .venv for the tests: 53 s instead of 81 s on 2 cores). Its failures are
# not ours: torch ships a file of Python 3.12 syntax, which pip skips the same way.
$(VENV)/.stamp-%: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --disable-pip-version-check -q --no-compile -c constraints.txt -e ".[$*]"
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	@touch $@

html: $(VENV)/.stamp-docs
	$(BIN)/sphinx-build -b html $(SPHINXOPTS) -d $(BUILDDIR)/doctrees $(SOURCEDIR) $(BUILDDIR)/html
	@echo "Site built: open $(BUILDDIR)/html/index.html"

html-noplot: $(VENV)/.stamp-docs
	$(BIN)/sphinx-build -b html $(SPHINXOPTS) -D plot_gallery=0 -d $(BUILDDIR)/doctrees-noplot $(SOURCEDIR) $(BUILDDIR)/html-noplot
	@echo "Layout built (tutorials not executed): open $(BUILDDIR)/html-noplot/index.html"

livehtml: $(VENV)/.stamp-dev
	$(BIN)/sphinx-autobuild -b html $(SPHINXOPTS) -d $(BUILDDIR)/doctrees --host 127.0.0.1 \
		--watch src --watch gallery $(SOURCEDIR) $(BUILDDIR)/html

# Browser tests drive Debian's chromium; install it when we can (root or sudo).
browser:
	@bash .ci/install-chromium || echo "the browser tests will be skipped"

# Two processes, one test file at a time each, in the order of collection: the browser
# tests and the notebook tests (which share one site build) land in different ones.
test: $(VENV)/.stamp-test browser
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# The package's unit tests alone (tests/, not tests/site/): no site build, no browser,
# no notebooks, no torchrun (the tests marked slow); about a minute.
test-fast: $(VENV)/.stamp-test
	$(BIN)/python -m pytest tests --ignore=tests/site -m "not slow"

bench: $(VENV)/.stamp-dev
	@for script in benchmarks/*.py; do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check src tests benchmarks gallery docs/conf.py docs/_ext
	$(BIN)/ruff format --check src tests benchmarks gallery docs/conf.py docs/_ext

clean:
	rm -rf $(BUILDDIR) $(SOURCEDIR)/auto_examples $(SOURCEDIR)/gen_modules \
		$(SOURCEDIR)/sg_execution_times.rst $(SOURCEDIR)/jupyter_execute build
