# gaitord build. The native libraries and the cgo environment come from
# scripts/install_libtorch.sh (LIBTORCH=/path/to/libtorch to use another libtorch);
# nothing needs to be set by hand.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/gaitord/gaitord/internal/version.Version=$(VERSION)

-include .cache/native/env.mk

.PHONY: all build native testdeps lint test unit test-kill demo bench clean
all: build

# Re-run the installer when the native sources change or the env file is missing.
.cache/native/env.mk: $(wildcard native/torchx/*) scripts/install_libtorch.sh go.mod
	scripts/install_libtorch.sh
	@touch $@

native: .cache/native/env.mk

build: native
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/gaitord ./cmd/gaitord

# The test tools: PyTorch and ONNX for Python, ONNX Runtime for Node, and
# staticcheck (pinned) in .cache/bin.
testdeps:
	scripts/install_test_deps.sh

# The static checks: gofmt, go vet, go.mod/go.sum tidy, staticcheck.
lint: native testdeps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	.cache/bin/staticcheck ./...

# Everything the project checks: the static checks and all tests.
test: lint
	$(GO) test -count=1 -timeout 40m ./...

# The inner loop: every package's tests under -short, which skips the long
# ones (the end-to-end and bad-input binary runs, multi-process ranks,
# PyTorch reference runs).
unit: native
	$(GO) test -short -count=1 ./...

# The long fault test: 20 SIGKILLs at random moments of one training run.
test-kill: native
	GAITORD_KILL_TRIALS=$${GAITORD_KILL_TRIALS:-20} $(GO) test -count=1 -run TestKillLoop -v -timeout 60m ./tests/e2e/

# The main job on the built-in synthetic data: synth → train → eval → predict.
demo: build
	scripts/demo.sh

clean:
	rm -rf bin .cache/native

# Side-by-side benchmark against PyTorch (same libtorch, threads, batch, loss); BENCH_ARGS=--quick for a short run.
bench: build testdeps
	bench/run.sh $(BENCH_ARGS)
