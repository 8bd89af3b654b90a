# vigil: `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
GO ?= go
BIN := bin/vigil
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Fuzz targets run for this long each in `make test` (hostile-input tier).
FUZZTIME ?= 10s
RULES ?=
# Extra flags for the macro harness, e.g. BENCH_ARGS="-rounds 9 -loops open".
BENCH_ARGS ?=
ARGS ?=

.PHONY: help generate check-generated build run test deps test-go test-fuzz vm-test vagrant-validate bench lint clean rehearse

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

generate: ## rebuild BPF objects and Go bindings (needs clang, llvm, libbpf-dev)
	$(GO) generate ./bpf/... ./bench/...

check-generated: generate ## fail if committed BPF objects or bindings are stale
	@git diff --exit-code --stat -- bpf bench || { echo "generated files are stale: run make generate and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- bpf bench)" || { git status --porcelain -- bpf bench; echo "make generate left untracked files" >&2; exit 1; }

# Recipes of build and run echo themselves to stderr: stdout is vigil's JSON,
# which `make run | jq .` and SIEM pipes read.
build: ## build bin/vigil (no clang needed: generated files are committed)
	@echo "CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigil" >&2
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigil

run: build ## build and run the sensor with its embedded default rules (root); stdout is JSON only
	@echo "$(BIN) run $(foreach r,$(RULES),--rules $(r)) $(ARGS)" >&2
	@exec $(BIN) run $(foreach r,$(RULES),--rules $(r)) $(ARGS)

deps: ## install the Debian packages the tests need, when missing (root)
	./scripts/install-deps.sh

test: deps check-generated vagrant-validate test-go test-fuzz vm-test ## every test tier: unit, privileged, containers, fuzz, kernel matrix

test-go: ## unit, privileged (this kernel) and container tiers
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

# A finding (the engine writes the failing input under testdata/fuzz) fails at
# once; a failure of the engine itself, seen once here with no input written,
# is shown and the target runs once more.
test-fuzz: ## run each fuzz target for FUZZTIME
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg >$$log 2>&1; then \
				cat $$log; \
				grep -q 'Failing input written to' $$log && exit 1; \
				echo "fuzz engine failed without a finding; running $$f once more"; \
				$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
			fi; \
		done; \
	done

vm-test: ## boot Debian 6.1 and 6.12 kernels under qemu and run the privileged tier in each
	./vagrant/matrix.sh

# Validation with the libvirt provider installed (make deps) also checks the
# provider block; --ignore-provider would pass a misspelt libvirt setting.
vagrant-validate: ## check the users' Vagrantfile and its libvirt block (offline: no box is downloaded)
	cd vagrant && vagrant validate

rehearse: ## run make test as a fresh machine would: a minimal Debian chroot, a clone of HEAD, no ../shared (root)
	./scripts/rehearse-fresh.sh

bench: build ## Go micro-benchmarks, then the macro harness against the eBPF floor and known tools (root)
	./scripts/install-deps.sh bench
	$(GO) test -run '^$$' -bench . -benchmem ./sensor/... ./rules/... ./enrich/... ./internal/output/... ./cmd/vigil/...
	$(GO) run ./bench/harness -vigil $(BIN) $(BENCH_ARGS)

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfel\.go$$'))" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

clean: ## remove build output
	rm -rf bin
