# uvroot's developer entry points.  `make demo` and `make test` work on a fresh machine:
# each creates .venv with this interpreter and installs uvroot (+ test tools) into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo-root

.PHONY: venv demo test test-network lint mutate clean bench

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Stage the bundled example into a Docker-style root, then run it with a real interpreter.
demo: venv
	rm -rf $(DEMO)
	$(BIN)/uvroot sync --project examples/hello --root $(DEMO) --no-dev
	@echo "--- the staged tree (what COPY --from=build /root-dir / would copy):"
	@find $(DEMO) -maxdepth 6 -not -path '*/site-packages/*/*' | sort
	@echo "--- shebang of a staged console script (the TARGET interpreter, not this machine's):"
	@head -1 $(DEMO)/usr/local/bin/pygmentize
	@echo "--- the app, run by a real interpreter on the staged site-packages:"
	@site=$$(echo $(DEMO)/usr/local/lib/python3.*/site-packages); \
	  PYTHONPATH=$$site $(BIN)/python examples/hello/app.py --name demo && \
	  PYTHONPATH=$$site $(BIN)/python $(DEMO)/usr/local/bin/pygmentize -V
	@echo "--- the same lock planned for an Alpine aarch64 image with Python 3.12 (dry run):"
	$(BIN)/uvroot plan --project examples/hello --root $(DEMO)-alpine --layout alpine --no-dev \
	  --python-platform aarch64-unknown-linux-musl --python-version 3.12

test: venv
	$(BIN)/python -m pytest -q

# The few tests that stage real projects from the public PyPI.
test-network: venv
	UVROOT_NETWORK=1 $(BIN)/python -m pytest -q -m network

# ruff (curated rules, see pyproject.toml) and mypy --strict over the package.
lint: venv
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	$(BIN)/ruff check uvroot tests
	$(BIN)/ruff format --check uvroot tests
	$(BIN)/mypy

# Mutation testing (mutmut), one core module at a time: `make mutate` runs them all (hours),
# `make mutate M=uvroot/plan.py` one.  Results are kept in build/mutate/ and reused by the next run;
# prints killed/survived per module.  Not part of `make test` or CI.
mutate: venv
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	$(BIN)/python tools/mutate.py $(M)

clean:
	rm -rf $(VENV) build .pytest_cache

# uvroot vs uv pip install vs pip install (--target, warm/cold/no-op, medians): prints the table and
# writes bench/RESULTS.md.  About 10 minutes; `$(BIN)/python bench/bench.py --quick` for a smoke test.
bench: venv
	$(BIN)/python bench/bench.py
