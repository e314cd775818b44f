# Daiban: `make demo` runs a hub and two village nodes; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup catalogues messages prereqs lint demo test test-fast chaos bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP) catalogues

# The English catalogues are compiled here (and by setup.py when a wheel is built), never at runtime;
# the .mo files are build output and git-ignored.
APPS := hub node
catalogues: $(STAMP)
	for app in $(APPS); do $(VENV)/bin/pybabel -q compile -d $$app/translations -D messages || exit 1; done

# After wrapping new strings in _(): re-extract the Chinese msgids of each app (its own code and
# templates, plus shared/, plus the help of its `daiban` commands) and merge them into its catalogue,
# sorted so merges stay simple.
# The node's catalogue also takes the hub modules whose refusals a village is sent (ack.refused[].message):
# the node shows them in its own language, and the node never imports the hub.
NODE_FROM_HUB := hub/ingest.py hub/cases.py hub/corrections.py hub/ratings.py hub/mailbox.py hub/attachments.py
# Likewise the hub's takes the node client modules its county link runs (hub/county/uplink.py), whose
# errors the township's CLI and fleet page show.
HUB_FROM_NODE := node/sync.py node/transport.py node/bundles.py node/enrolment.py node/outbox.py
messages: $(STAMP)
	for app in $(APPS); do \
	  extra="$(HUB_FROM_NODE)"; if [ $$app = node ]; then extra="$(NODE_FROM_HUB)"; fi; \
	  $(VENV)/bin/pybabel -q extract -F $$app/translations/babel.cfg -k lazy_gettext -k N_ --sort-by-file \
	    --no-location --omit-header -o $$app/translations/messages.pot $$app shared $$extra || exit 1; \
	  $(PY) -m shared.cli_i18n $$app $$app/translations/messages.pot || exit 1; \
	  $(VENV)/bin/pybabel -q update -i $$app/translations/messages.pot -d $$app/translations -D messages \
	    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date || exit 1; \
	  rm $$app/translations/messages.pot; \
	done

demo: setup
	$(PY) deploy/demo.py

# Debian packages the suite needs (chromium, shellcheck, CJK font, PostgreSQL binaries); as root
# it installs them, otherwise it says what is missing and the tests needing it skip (and fail the run).
prereqs:
	sh tests/setup-machine.sh

# ruff (lint rules in pyproject.toml, and `ruff format` kept: the check fails on unformatted code), mypy, bandit against its triaged baseline.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m bandit -q -c pyproject.toml -r shared hub node -b .ci/bandit-baseline.json

# prereqs first: on a fresh Debian it also installs python3-venv, which setup needs.
test: prereqs setup lint
	$(PY) -m pytest -q -p no:cacheprovider

# Browser tests write screenshots to var/screenshots; this refreshes the documented ones.
screenshots: prereqs setup
	DAIBAN_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider \
	  tests/e2e/test_node_browser.py tests/e2e/test_hub_browser.py tests/e2e/test_supervision_browser.py \
	  tests/e2e/test_words_browser.py tests/e2e/test_promises_browser.py tests/e2e/test_public_face_browser.py \
	  tests/e2e/test_county_browser.py tests/e2e/test_figures_browser.py tests/e2e/test_corrections_browser.py \
	  tests/e2e/test_hub_restore.py::test_clerk_sees_in_chromium_what_the_restore_withdrew \
	  tests/e2e/test_counter_browser.py tests/e2e/test_screens_browser.py tests/e2e/test_thermal_receipt.py

test-fast: setup
	$(PY) -m pytest -q -x -m "not slow" tests/shared tests/hub tests/node

# One process (-n 0): -s shows the drills' figures as they print them, which xdist workers would swallow.
chaos: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 0 -m slow -s

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info .ruff_cache .mypy_cache
