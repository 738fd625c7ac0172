# votecast in one image: every role (serve, nats, migrate, recount, load)
# is a subcommand of the same static binary.
#
#   docker build --build-arg VERSION="$(git describe --always --dirty)" -t votecast .
#   docker run --rm -p 8080:8080 votecast

# The Go version of go.mod; the tag is pinned so a rebuild compiles with
# the same toolchain.
FROM golang:1.26.8 AS build
WORKDIR /src
# Modules first: this layer stays cached until go.mod or go.sum changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: the final stage has no libc. The empty /out/data becomes the
# image's /data, owned by nonroot, because a fresh named volume takes the
# owner of the directory it is mounted on and distroless has no shell to
# chown one.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/votecast ./cmd/votecast \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/votecast /usr/local/bin/votecast
COPY --from=build --chown=65532:65532 /out/data /data
# serve's defaults are for a laptop (./data, 127.0.0.1:8080); in a
# container the data lives in the volume and the port must be reachable
# from outside the container's own loopback.
ENV VOTECAST_DATA=/data \
    VOTECAST_HTTP=0.0.0.0:8080
# distroless's nonroot user, by number so that runtimes that check
# runAsNonRoot can tell.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["votecast"]
# Every role in one process, embedded NATS and store: a demo in one command.
CMD ["serve"]
