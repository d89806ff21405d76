# gaitord build. `make` builds bin/gaitord; the native libraries and the cgo
# environment come from scripts/install_libtorch.sh (LIBTORCH=... to use another libtorch).
SHELL := /bin/bash
GO ?= go
NATIVE_SRC := $(wildcard native/torchx/*) scripts/install_libtorch.sh go.mod

-include .cache/native/env.mk

.PHONY: all build native test check demo bench clean
all: build

.cache/native/env.mk: $(NATIVE_SRC)
	scripts/install_libtorch.sh
	@touch $@

native: .cache/native/env.mk

build: native
	$(GO) build -o bin/gaitord ./cmd/gaitord

clean:
	rm -rf bin .cache/native
