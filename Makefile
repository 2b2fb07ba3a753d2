# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck imports system fonts unit bench clean translations samples screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The compiled catalogs (not in git): rebuilt when a .po file changes.
MO := $(foreach l,vi en km lo,translations/$(l)/LC_MESSAGES/messages.mo)
translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -d translations -l $* -i $< -o $@

run: $(STAMP) $(MO) fonts
	$(BIN)/gateway demo

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench deploy scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict gateway

imports: $(STAMP)
	$(BIN)/lint-imports

# Two workers; a module (and its federation) stays on one, longest first (tests/conftest.py,
# MODULE_SECONDS; xdist would otherwise put first the modules with most tests, the quick ones).
# The suite starts some 500 processes (nodes, commands): with PYTHONDONTWRITEBYTECODE set, as
# on these machines, each of them compiled the gateway's modules anew, a tenth of a command's
# start-up. Here the compiled files are kept (in __pycache__, ignored by git).
unit: $(STAMP) $(MO)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

test: lint typecheck imports system unit

# What printing needs from Debian: fonts that shape Vietnamese, Khmer and Lao. The tests also
# need poppler's pdftotext/pdffonts/pdftoppm, docker-compose (to validate its files), HAProxy and
# chromium (the console's browser tests, driven by Playwright without downloading a browser).
# Elsewhere, install Noto Sans, Noto Sans Khmer and Noto Sans Lao (or Khmer OS and Phetsarath
# OT), Pango 1.44+ (for WeasyPrint) and poppler-utils by hand.
FONTS  := fonts-noto-core fonts-khmeros fonts-lao libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: apt-get install$$missing; elsewhere see the Makefile)" >&2; exit 1; fi; \
	fi
endef

fonts:
	$(call apt_install,$(FONTS))

# haproxy: the replica tests put three `gateway serve` behind it (tests/e2e/test_replicas.py).
system:
	$(call apt_install,$(FONTS) poppler-utils docker-compose chromium haproxy)

# The load comes from Debian's wrk, never from a Python client (bench/load.py).
bench: $(STAMP) $(MO)
	$(call apt_install,wrk haproxy)
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/ingest.py --stored 10000 --stored 1000000
	$(BIN)/python bench/drain.py
	$(BIN)/python bench/push.py
	$(BIN)/python bench/replicas.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/proofs.py
	$(BIN)/python bench/matching.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Extract every user-facing string (code, templates, schema labels and code lists), merge it
# into the four catalogs and compile them (translations/<locale>/LC_MESSAGES/messages.mo).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k both -k text:2 -k t:2 -k C_:1c,2 -c "TRANSLATORS:" --sort-by-file --ignore-dirs ".* __pycache__ var" \
	  --project "Border Exchange Gateway" -o translations/messages.pot .
	for locale in vi en km lo; do \
	  if [ -f translations/$$locale/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update --no-fuzzy-matching -i translations/messages.pot -d translations -l $$locale; \
	  else $(BIN)/pybabel init -i translations/messages.pot -d translations -l $$locale; fi; \
	done
	$(BIN)/pybabel compile --statistics -d translations

# The PNG of the first page of each document type in docs/samples/ (keep them current).
samples: $(STAMP) $(MO) system
	$(BIN)/python scripts/render_samples.py

# The console's pages in docs/screenshots/ (keep them current): the browser tests copy their
# screenshots there only when asked, so that `make test` leaves the working tree clean.
screenshots: $(STAMP) $(MO) system
	BX_SCREENSHOTS=1 $(BIN)/pytest -n 2 --dist loadfile tests/e2e/test_console.py \
	  tests/e2e/test_exchange.py tests/e2e/test_witness.py tests/e2e/test_reports.py
