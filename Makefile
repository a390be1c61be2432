# uvroot's developer entry points.  `make demo` and `make test` work on a fresh machine:
# each creates .venv with this interpreter and installs uvroot (+ test tools) into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo-root
space  := $(subst ,, )

.PHONY: venv demo test test-network test-images lint mutate clean bench

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

# Stage into real images and run the result inside them (tests/test_real_images.py, and the multi-arch
# example's arm64 tree in python:3.13-slim: tests/test_multiarch_example.py).  Needs root: builds each
# missing rootfs once with debootstrap into $$UVROOT_IMAGES_CACHE (default ~/.cache/uvroot-images),
# apt-get installing debootstrap (qemu-user-static, binfmt-support for arm64; the cross gcc for
# python-3.13-slim-arm64, whose CPython is compiled from source) when missing.
# IMAGES="debian-12-amd64 debian-13-amd64" limits it; the default is every image (the arm64 ones too).
IMAGES ?=
IMAGE_TESTS := tests/test_real_images.py tests/test_multiarch_example.py
test-images: venv
	$(BIN)/python -m tests.support.rootfs build --install-tools $(IMAGES)
	UVROOT_IMAGES=1 $(BIN)/python -m pytest -q -m images $(IMAGE_TESTS) $(if $(IMAGES),-k "$(subst $(space), or ,$(strip $(IMAGES)))")

# ruff (curated rules, see pyproject.toml) and mypy --strict over the package.
lint: venv
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	$(BIN)/ruff check uvroot tests bench
	$(BIN)/ruff format --check uvroot tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict bench/bench.py

# Mutation testing (mutmut), one core module at a time: `make mutate` runs them all (hours),
# `make mutate M=uvroot/plan.py` one.  Results are kept in build/mutate/ and reused by the next run;
# prints killed/survived per module.  Not part of `make test` or CI.
mutate: venv
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	$(BIN)/python tools/mutate.py $(M)

clean:
	rm -rf $(VENV) build .pytest_cache

# uvroot vs uv and pip on bench/project's lock, every goal of issue 13 (warm, cold, no-op, plan, check,
# removal, cache size, memory, a 50,000-package plan): prints the table and writes bench/RESULTS.md.
# About half an hour on 2 cores; `make bench ARGS=--quick` for a one-run smoke test (report in bench/work).
bench: venv
	$(BIN)/python bench/bench.py $(ARGS)
