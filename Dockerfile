# syntax=docker/dockerfile:1
# The container of the GitHub action (action.yml: runs.using docker, image Dockerfile).
# Stage 1 builds the platform binary; stage 2 ships it on a small base with git (plan
# commits, diff worktrees) as a non-root user. A test (pkg/action) builds the same binary
# with the same command and runs it as GitHub runs this entrypoint.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY pkg/ pkg/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/platform ./cmd/platform

FROM alpine:3.22 AS action
# git: plan commits and diff worktrees; ca-certificates: GitHub and ECR over TLS.
# No USER and no WORKDIR: GitHub runs Docker actions as the image's default user (root) with
# GITHUB_WORKSPACE mounted as the working directory ("Dockerfile support for GitHub
# Actions"); safe.directory lets git work in the checkout, which the runner's user owns.
RUN apk add --no-cache git ca-certificates \
 && git config --system --add safe.directory '*'
COPY --from=build /out/platform /usr/local/bin/platform
ENTRYPOINT ["/usr/local/bin/platform","action"]
