# Two commands do all the set-up: `make demo` and `make test`. Each installs what it needs into .venv.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test install sync nbtest pytest bench readme docs clean

# (re)install when settings.ini or setup.py changed since the last install
$(STAMP): settings.ini setup.py
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# the bcd study's cpu profile end to end: the sweep (notebook mode; finished runs are skipped), then its figures notebook
DEMO_RUNS   := $(CURDIR)/runs/bcd
DEMO_REPORT := $(CURDIR)/runs/bcd-report
demo: $(STAMP)
	@$(VENV)/bin/blockopt sweep papers/bcd/sweep.yaml --profile cpu --runs_dir $(DEMO_RUNS) --quiet
	@mkdir -p $(DEMO_REPORT)
	@$(VENV)/bin/papermill papers/bcd/figures.ipynb $(DEMO_REPORT)/figures.ipynb -k python3 --no-progress-bar \
	  -p runs_dir $(DEMO_RUNS) -p out_dir $(DEMO_REPORT) -p sweep bcd >/dev/null 2>$(DEMO_REPORT).log \
	  || { tail -30 $(DEMO_REPORT).log; exit 1; }
	@for t in $(DEMO_REPORT)/rounds_to_convergence_*.md; do echo; cat $$t; done
	@echo; echo "tables and figures (md, tex, png, pdf): $(DEMO_REPORT)/"
	@echo "executed notebooks: $(DEMO_REPORT)/figures.ipynb and $(DEMO_RUNS)/<run_id>/run.ipynb (one per run)"

# notebooks and package must already be in sync: cleaning and exporting may not change a file
sync: $(STAMP)
	@before=$$(find nbs blockopt -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs md5sum); \
	$(VENV)/bin/nbdev_clean && $(VENV)/bin/nbdev_export && \
	after=$$(find nbs blockopt -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs md5sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_clean/nbdev_export changed these files (run them and commit):"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print "  " $$3}' | sort -u; exit 1; \
	else echo "notebooks and blockopt/ are in sync"; fi

nbtest: $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nbdev_test --n_workers 2 --timing
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nbdev_test --path papers --file_glob run.ipynb --n_workers 2 --timing  # the studies' run notebooks at their tiny defaults

pytest: $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest tests -q --durations=8

test: sync nbtest pytest

# every bench/*.py, each ratio measured side by side, into bench/RESULTS.md: 5-11 min on 2 shared cores (load matters);
# `make bench BENCH_ARGS=--quick` runs smaller sizes
bench: $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e ".[dev,bench]"
	@$(PY) bench/run.py $(BENCH_ARGS)

# the docs site without Quarto: nbdev's processors (show_doc cells run) into _proc/, the papers' READMEs beside them,
# then MkDocs (Material + mkdocs-jupyter, navigation from nbs/sidebar.yml) into _docs/; with Quarto: nbdev_docs
docs: $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/docs.py build

# README.md is generated from nbs/index.ipynb (nbdev_readme needs Quarto, which these machines lack)
readme: $(STAMP)
	@$(PY) tools/readme.py && $(VENV)/bin/nbdev_clean --fname nbs/index.ipynb

clean:
	rm -rf _proc _docs .pytest_cache
