# gaitord on Debian 12 with Debian's libtorch (CPU). Mirrors the README's
# commands step for step; untested here (no Docker engine on the build machines).
#   docker build -t gaitord .
#   docker run --rm gaitord version
# Go 1.26: the minimum, the `go` line of go.mod.
FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ make git && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# installs libtorch-dev + libopenblas0-pthread + libgloo-dev + ffmpeg, builds libcgotorch.so and libtorchx.so
RUN scripts/install_libtorch.sh && make build

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libtorch1.13 libopenblas0-pthread ffmpeg \
    && rm -rf /var/lib/apt/lists/*
# the binary's rpath points into /src/.cache/native: keep the same path
COPY --from=build /src/.cache/native /src/.cache/native
COPY --from=build /src/bin/gaitord /usr/local/bin/gaitord
COPY --from=build /src/configs /opt/gaitord/configs
WORKDIR /opt/gaitord
ENTRYPOINT ["gaitord"]
