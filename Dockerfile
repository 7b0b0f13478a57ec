# The container of the GitHub action (action.yml: runs.using docker, image Dockerfile).
# Stage 1 builds the platform binary; stage 2 ships it on a small base with git (plan
# commits, diff worktrees). A test (pkg/action) builds the same binary
# with the same command and runs it as GitHub runs this entrypoint.
#
# Base images are pinned by digest (the multi-arch index digest Renovate and Dependabot pin), so a rebuild of a commit
# uses the same bases (a moved tag cannot change what the action runs with its token and
# secrets); Renovate (docker:pinDigests) proposes tag and digest updates as pull requests.
# Releases do not build this on the runner: .github/workflows/release-action.yml pushes the
# image once, signed, and the release's action.yml runs it by digest.
# No `# syntax=` line: nothing here needs a newer frontend than the builder's own.

# golang:1.26.8 (go.mod requires go1.26.8; the image sets GOTOOLCHAIN=local). Digest as
# Dependabot pinned it in github.com/abd-ulbasit/upgradescope (Dockerfile); two other public
# Dockerfiles pin golang:1.26.8 and golang:1.26 to the same digest.
FROM golang:1.26.8@sha256:0f063af2d465d8dcae54cce04278ada488b96f77b42449c8d071e47d016cc65a AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY pkg/ pkg/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/platform ./cmd/platform

# alpine:3.22.4. Digest as pinned in github.com/AndrewSaff/amnezia-gateway (Dockerfile) and
# in about ten other public Dockerfiles, manifests and buildx logs, all agreeing.
FROM alpine:3.22.4@sha256:310c62b5e7ca5b08167e4384c68db0fd2905dd9c7493756d356e893909057601 AS action
# git: plan commits and diff worktrees; ca-certificates: GitHub and ECR over TLS.
# No USER and no WORKDIR: GitHub runs Docker actions as the image's default user (root) with
# GITHUB_WORKSPACE mounted as the working directory ("Dockerfile support for GitHub
# Actions"); safe.directory lets git work in the checkout, which the runner's user owns.
RUN apk add --no-cache git ca-certificates \
 && git config --system --add safe.directory '*'
COPY --from=build /out/platform /usr/local/bin/platform
ENTRYPOINT ["/usr/local/bin/platform","action"]
