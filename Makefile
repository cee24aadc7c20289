# Circuitry: set-up, tests and the main job on a fresh machine.
#   make demo   set-up, release build, then the main job
#   make test   set-up, then the test suite
# Set-up is idempotent and quiet when everything is already in place.

SHELL := /bin/bash
.DEFAULT_GOAL := demo

MODELS_DIR   := models
MODEL_FILE   := $(MODELS_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
APT_PACKAGES := libopenblas-dev libsqlite3-dev libgraphviz-dev graphviz pkg-config zlib1g-dev

# Vector code generation: on CPUs with AVX2, FMA and F16C (checked here, not assumed) Swift
# compiles for Haswell-class instructions; elsewhere it keeps the portable x86-64 baseline.
CPU_FLAGS := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell")
SWIFT_FLAGS := $(CPU_FLAGS)

# OPENBLAS_CORETYPE pins OpenBLAS to one kernel family; letting it detect the CPU is faster
# where the CPU is newer than the pinned family.
unexport OPENBLAS_CORETYPE

.PHONY: setup system-packages model models-qwen models-gemma build test demo bench fuzz clean corpus transcoders features
CORPUS_PACKAGES := python3.11-doc debian-reference-en fortunes wordnet-base
TRANSCODERS := $(MODELS_DIR)/transcoders/smollm2-default

setup: system-packages model

system-packages:
	@scripts/install-system-packages.sh $(APT_PACKAGES)

model: $(MODEL_FILE)

$(MODEL_FILE):
	@scripts/fetch-model.sh smollm2-135m >/dev/null

# The other real models, fetched on first use (or ahead of time with these targets).
models-qwen:
	@scripts/fetch-model.sh qwen2.5-0.5b
models-gemma:
	@scripts/fetch-model.sh gemma-3-270m

build: setup
	@swift build -c release $(SWIFT_FLAGS)

# Tests build our modules with -O (Package.swift; bounds and overflow checks stay on, unlike
# release's -Ounchecked): the real-model and attribution tests do too much arithmetic for an
# unoptimised build. The packages we depend on keep the debug default, which builds faster. The viewer's
# browser tests run in Debian's headless Chromium, installed here and required.
BROWSER_PACKAGES := chromium chromium-driver
# The store, query and compare suites also run on PostgreSQL: a throwaway server (Debian's
# PostgreSQL 15, its own data directory and port on 127.0.0.1) is started for them and removed
# afterwards, however the tests end.
TEST_PG_PORT ?= 55433
test: setup
	@scripts/install-system-packages.sh $(BROWSER_PACKAGES) postgresql
	@pgdir=$$(mktemp -d /tmp/circuitry-pg.XXXXXX); chmod 755 $$pgdir; \
	url=$$(scripts/test-postgres.sh start $$pgdir/server $(TEST_PG_PORT)) || exit 1; \
	trap "scripts/test-postgres.sh stop $$pgdir/server; rm -rf $$pgdir" EXIT; \
	echo "test PostgreSQL server on 127.0.0.1:$(TEST_PG_PORT)"; \
	CIRCUITRY_TEST_POSTGRES=$$url CIRCUITRY_REQUIRE_POSTGRES=1 CIRCUITRY_BROWSER_TESTS=1 swift test $(SWIFT_FLAGS)

# The training corpus: English prose and some code from Debian packages (installed when missing).
corpus:
	@scripts/install-system-packages.sh $(CORPUS_PACKAGES)

# The default transcoder set, trained on first use (about 15 minutes on 2 cores) and cached.
transcoders: build corpus
	@test -f $(TRANSCODERS)/config.yaml || .build/release/circuitry transcoders train --out $(TRANSCODERS) --resume

# Feature pages and automatic labels for the default set: built on first use (a few minutes, with a
# progress bar) into the default graph store, then reused.
features: transcoders
	@.build/release/circuitry features build

# The main job: trace the default prompt on the real model with the default transcoders (trained
# on first use) and their feature labels, into the graph store Graphs/circuits.sqlite, with its
# picture in Graphs/. A rerun replaces the demo's graph.
DEMO_PROMPT := The capital of Texas is
DEMO_SLUG := the-capital-of-texas-is
demo: build transcoders features
	@mkdir -p Graphs
	@.build/release/circuitry graphs delete $(DEMO_SLUG) --keep-space >/dev/null 2>&1 || true
	@.build/release/circuitry trace "$(DEMO_PROMPT)" --slug $(DEMO_SLUG) --svg Graphs/$(DEMO_SLUG).svg
	@echo "picture: Graphs/$(DEMO_SLUG).svg; store: Graphs/circuits.sqlite (try: .build/release/circuitry graphs list)"

bench: build
	.build/release/circuitry bench blas
	.build/release/circuitry bench ops
	.build/release/circuitry bench query

# Fuzzing: every parser a user feeds (GGUF, safetensors, npz, tokenizer.json, transcoder config.yaml,
# CircuitQL, interchange JSON, store blobs) under libFuzzer and the address sanitizer, from the
# seed corpus in Fuzz/corpus (docs/FUZZING.md). FUZZ_SECONDS per target (default 60); name
# targets with FUZZ_TARGETS="gguf circuitql".
fuzz: system-packages
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} scripts/fuzz.sh $(FUZZ_TARGETS)

clean:
	rm -rf .build
