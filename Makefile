# Quickstart on a fresh clone with only python3: `make demo`, `make test`.
# Every target creates .venv/ when missing and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SIGMA_OKTA := $(BIN)/sigma-okta
DEMO   := demo

# The project is installed in setuptools' *strict* editable mode: every file is symlinked into
# build/__editable__.*, so edits are live and pySigma's plugin autodiscovery (pkgutil over the
# namespace packages) still lists sigma.backends.okta and sigma.pipelines.okta, which the default
# editable mode breaks. Adding or removing a file needs a relink, so the install depends on the
# list of the package's files as well as on pyproject.toml.
FILELIST := $(VENV)/.package-files
$(shell mkdir -p $(VENV) && find plugin backends rules -type f \( -name '*.py' -o -name '*.yml' -o -name '*.yaml' -o -name '*.json' \) 2>/dev/null | LC_ALL=C sort > $(FILELIST).new && (cmp -s $(FILELIST).new $(FILELIST) || mv $(FILELIST).new $(FILELIST)); rm -f $(FILELIST).new)

.PHONY: install tools demo test lint bench clean asan fuzz

install: $(VENV)/.installed

# Validators from the npm registry that tests use (SARIF Multitool); without npm the tests that need
# them skip and say why.
NODE_TOOLS := $(VENV)/node-tools
JAVA_TOOLS := $(VENV)/java-tools
tools: $(NODE_TOOLS)/.installed $(JAVA_TOOLS)/.installed

$(NODE_TOOLS)/.installed: tests/tools/package.json
	@mkdir -p $(NODE_TOOLS)
	@if command -v npm >/dev/null; then \
		cp tests/tools/package.json $(NODE_TOOLS)/package.json && \
		npm install --silent --no-audit --no-fund --prefix $(NODE_TOOLS) && \
		chmod u+x $(NODE_TOOLS)/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool && \
		touch $@; \
	else echo "npm not found: tests that need the SARIF Multitool will skip"; fi

# Lucene's own RegExp parser (lucene-core, from Debian's liblucene8-java) checks every ES|QL RLIKE
# pattern; without apt-get the test skips and says why.
$(JAVA_TOOLS)/.installed:
	@mkdir -p $(JAVA_TOOLS)
	@if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then \
		cd $(JAVA_TOOLS) && rm -rf deb *.deb && apt-get download -q=2 liblucene8-java 2>/dev/null && \
		dpkg-deb -x liblucene8-java_*.deb deb && cp deb/usr/share/java/lucene-core-*.jar lucene-core.jar && \
		rm -rf deb *.deb && touch .installed \
		|| echo "lucene-core could not be fetched: the Lucene RegExp check of ES|QL patterns will skip"; \
	else echo "apt-get not found: the Lucene RegExp check of ES|QL patterns will skip"; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The native kernel's C sources too: pip builds it (in place; the editable install links it).
NATIVE_SOURCES := backends/engine/projection_kernel.c backends/engine/rule_predicates.c
$(VENV)/.installed: pyproject.toml $(FILELIST) $(NATIVE_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]' --config-settings editable_mode=strict
	@touch $@

# One day of a generated org with one session of every scenario: the alerts of the whole pack, one row
# each, then the ground truth compared rule by rule (`--format text` shows each alert in full).
demo: install
	@mkdir -p $(DEMO)
	$(SIGMA_OKTA) generate --seed 7 --sessions 1 --output $(DEMO)/okta-events.jsonl --truth $(DEMO)/ground-truth.json
	$(SIGMA_OKTA) run --events $(DEMO)/okta-events.jsonl --format table --truth $(DEMO)/ground-truth.json

lint: install
	$(BIN)/ruff check plugin backends tests benchmarks
	$(BIN)/ruff format --check plugin backends tests benchmarks

test: lint tools
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m pytest benchmarks -q --benchmark-enable --benchmark-columns=min,median,mean,ops,rounds
	@echo "== the engine with the native kernel (when built)"
	$(BIN)/python benchmarks/engine_vs_duckdb.py
	@echo "== the engine on the pure-Python path (SIGMA_OKTA_NATIVE=0)"
	SIGMA_OKTA_NATIVE=0 $(BIN)/python benchmarks/engine_vs_duckdb.py

# The native kernel's differential tests on a build with AddressSanitizer and UBSan (SSE2 and scalar).
asan: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/engine/test_native_kernel.py -k sanitizers

# The native kernel's entry point under atheris for FUZZ_SECONDS, from generated Okta lines.
FUZZ_SECONDS ?= 30
fuzz: install
	$(BIN)/python tests/engine/fuzz_native_kernel.py --seed-corpus build/fuzz-seeds
	@mkdir -p build/fuzz-corpus
	$(BIN)/python tests/engine/fuzz_native_kernel.py -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build/fuzz-corpus build/fuzz-seeds

clean:
	rm -rf $(VENV) build $(DEMO) .pytest_cache .ruff_cache .benchmarks .hypothesis
