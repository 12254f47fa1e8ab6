# Build, test and run dangling-references-policy.
#
#   make run-examples   build policy.wasm and evaluate every example request in test_data/
#   make test           fmt, lint, unit tests and every end-to-end test

CARGO_FLAGS ?= --locked
TARGET_DIR  := target
WASM        := $(TARGET_DIR)/wasm32-wasip1/release/dangling_references_policy.wasm
# The native waPC host (wasmtime) is built once, in the `e2e` profile.
E2E         := --profile e2e -p e2e
KWRUN       := $(TARGET_DIR)/e2e/kwrun
SOURCES     := $(shell find src -name '*.rs') Cargo.toml Cargo.lock

# wasm-opt (binaryen) shrinks the module that ships to every cluster.
WASM_OPT       ?= wasm-opt
WASM_OPT_FLAGS := -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int

.PHONY: setup
setup:
	rustup target add wasm32-wasip1
	@command -v $(WASM_OPT) >/dev/null 2>&1 || { \
	  echo "wasm-opt not found: install binaryen (apt-get install binaryen)"; exit 1; }

# The release build, optimized by wasm-opt: what the tests, the bench and
# the examples run, and what a release publishes.
policy.wasm: $(SOURCES) | setup
	cargo $(CARGO_FLAGS) build --target wasm32-wasip1 --release
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM) -o policy.wasm

# The same policy with the benchmark's `parse_request` baseline export.
baseline-policy.wasm: $(SOURCES) | setup
	cargo $(CARGO_FLAGS) build --target wasm32-wasip1 --release --features parse-baseline --target-dir $(TARGET_DIR)/baseline
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(TARGET_DIR)/baseline/wasm32-wasip1/release/dangling_references_policy.wasm -o baseline-policy.wasm

annotated-policy.wasm: policy.wasm policy-metadata.yml README.md
	kwctl annotate -m policy-metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

.PHONY: kwrun
kwrun:
	cargo $(CARGO_FLAGS) build $(E2E) --bins

# Evaluates every example with the settings and Service lists it is meant for.
.PHONY: run-examples
run-examples: policy.wasm kwrun
	@set -e; for request in test_data/*_kubeconfig_*.json test_data/pod_*.json test_data/service_*.json; do \
	  echo "== $$request"; $(KWRUN) --policy policy.wasm --request $$request; done
	@echo "== test_data/pod_unknown_fields_kubeconfig.json with removeOffendingVariables"
	@$(KWRUN) --policy policy.wasm --request test_data/pod_unknown_fields_kubeconfig.json \
	  --settings test_data/settings_remove_offending.json
	@set -e; for session in test_data/sessions/*.yml; do \
	  for request in test_data/configmap_dangling_service.json test_data/configmap_service_exists.json; do \
	    echo "== $$request, Services from $$session"; \
	    $(KWRUN) --policy policy.wasm --request $$request --replay $$session; done; done
	@echo "== test_data/configmap_update_old_reference.json (no lookup needed)"
	@$(KWRUN) --policy policy.wasm --request test_data/configmap_update_old_reference.json

.PHONY: fmt
fmt:
	cargo fmt --all -- --check

.PHONY: lint
lint: | setup
	cargo $(CARGO_FLAGS) clippy --all-targets -- -D warnings
	cargo $(CARGO_FLAGS) clippy --target wasm32-wasip1 -- -D warnings
	cargo $(CARGO_FLAGS) clippy $(E2E) --all-targets -- -D warnings

.PHONY: unit-tests
unit-tests:
	cargo $(CARGO_FLAGS) test

# The compiled policy on the waPC host, including the corpus report; then the
# kwctl bats suite where kwctl is installed.
.PHONY: e2e-tests
e2e-tests: policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm cargo $(CARGO_FLAGS) test $(E2E)
	@test -f ../shared/corpus/SOURCES.md || test -n "$$CORPUS_DIR" || \
	  echo "SKIPPED corpus report check: ../shared/corpus not found (set CORPUS_DIR)"
	@if command -v kwctl >/dev/null 2>&1; then \
	  $(MAKE) annotated-policy.wasm && bats e2e/e2e.bats; \
	else \
	  echo "SKIPPED e2e/e2e.bats: kwctl is not on PATH (the same cases ran above on the waPC host)"; \
	fi

.PHONY: test
test: fmt lint unit-tests e2e-tests

.PHONY: corpus-report
corpus-report: policy.wasm
	UPDATE_CORPUS_REPORT=1 POLICY_WASM=$(CURDIR)/policy.wasm cargo $(CARGO_FLAGS) test $(E2E) --test corpus

.PHONY: bench
bench: policy.wasm baseline-policy.wasm
	cargo $(CARGO_FLAGS) run $(E2E) --bin bench -- --policy policy.wasm --baseline baseline-policy.wasm

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm baseline-policy.wasm
