#!/usr/bin/env bash
# make up: the GitFlow scenario end to end on the embedded defaults, with no cloud account
# and no GitHub:
#   1. a scratch clone under .cache/up/repo stands in for GitHub: main is this repository's
#      HEAD, branch release/local adds the working tree's uncommitted changes (the "PR");
#   2. plan (mission step 4): validate, render release/<env>/ for every environment, commit it
#      onto release/local with git, and print the sticky comment (diff against main + catalog);
#   3. the release manager's merge (step 5): main fast-forwards to release/local;
#   4. publish (step 6), then deploy (steps 7-8):
#      dev (the default): the dev charts, with their secrets baked in, are pushed as Helm OCI
#      artifacts into the local OCI layouts under .cache/up/repo/.cache/oci/dev/; the embedded
#      cluster starts and the dev plan is applied onto it;
#      prd (UP_ENV=prd, make up ENV=prd): the embedded cluster and the ECR stand-in start
#      (platform cluster registry), the prd charts are pushed into the stand-in through the
#      ECR code path (GetAuthorizationToken, then oras-go over HTTPS), and Argo CD runs on the
#      cluster with argocd-root for prd (the scratch clone's main) and pulls them from it,
#      until every Application of this repository's charts is Synced and Healthy;
#   5. the pushed references are listed.
# Secrets come from the environment; each variable secrets.yaml declares that is unset gets a
# documented placeholder, "<dev|prd>-local-only-<name in lower case>" (e.g.
# ACCOUNT_DB_PASSWORD=dev-local-only-account_db_password). Never use those outside a local cluster.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
platform=${PLATFORM:-$root/bin/platform}
env=${UP_ENV:-dev}
work=$root/.cache/up
repo=$work/repo

step() { printf '\n==> %s\n' "$*" >&2; }

step "build platform"
(cd "$root" && go build -o "$platform" ./cmd/platform)

step "scratch clone $repo (main = HEAD, release/local = HEAD + working tree changes)"
rm -rf "$repo"
mkdir -p "$work"
git clone --quiet --no-hardlinks "$root" "$repo"
export GIT_AUTHOR_NAME="platform up" GIT_AUTHOR_EMAIL="up@localhost.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git -C "$repo" checkout --quiet -B main
git -C "$repo" checkout --quiet -b release/local
(cd "$root" && git ls-files -z --modified --others --exclude-standard) |
  (cd "$root" && tar --null --no-recursion -T - -cf - 2>/dev/null) | tar -xf - -C "$repo"
(cd "$root" && git ls-files -z --deleted) | (cd "$repo" && xargs -0 -r rm -f --)
if [ -n "$(git -C "$repo" status --porcelain)" ]; then
  git -C "$repo" add --all
  git -C "$repo" commit --quiet -m "release/local: the working tree of $(basename "$root")"
fi

# The official charts the Applications install are planned too; the embedded default runs
# offline (charts from ../shared/charts beside this repository when it exists; any other is a
# warning naming its Application, and its plan directory is left as it was).
official=(--offline)
if [ -d "$root/../shared/charts" ]; then official+=(--charts-from "$root/../shared/charts"); fi

step "plan on release/local: validate, render release/<env>/, commit, comment"
"$platform" --root "$repo" plan --base main "${official[@]}" | tee "$work/comment.md"
git -C "$repo" log --oneline -3 >&2

step "merge release/local into main (the release manager's review)"
git -C "$repo" checkout --quiet main
git -C "$repo" merge --quiet --ff-only release/local

while read -r name; do
  if [ -z "${!name:-}" ]; then
    export "$name=$env-local-only-$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')"
    echo "secret $name: local placeholder" >&2
  fi
done < <(sed -n 's/^ *env: *\([A-Z_][A-Z0-9_]*\).*/\1/p' "$repo/secrets.yaml" 2>/dev/null | sort -u)

case "$env" in
dev)
  step "publish dev into the local OCI layouts"
  "$platform" --root "$repo" publish --env dev > "$work/pushed.txt"
  step "pushed $(wc -l < "$work/pushed.txt") charts (OCI layouts under ${repo#"$root"/}/.cache/oci/dev; the comment is in ${work#"$root"/}/comment.md)"
  cat "$work/pushed.txt"
  step "start the embedded cluster and apply the dev plan"
  "$platform" --root "$root" cluster up
  "$platform" --root "$root" cluster apply -e dev
  ;;
*)
  step "start the embedded cluster and the ECR stand-in"
  "$platform" --root "$root" cluster up >/dev/null
  "$platform" --root "$root" cluster registry -e "$env" > "$work/registry.env"
  # REGISTRY_ADDR, OCI_REPOSITORY, AWS_ENDPOINT_URL_ECR, AWS_REGION, the stand-in's own AWS key
  # and SSL_CERT_FILE (its CA), for this shell's publish only.
  set -a
  # shellcheck disable=SC1091
  . "$work/registry.env"
  set +a
  step "publish $env into the ECR stand-in ($OCI_REPOSITORY)"
  "$platform" --root "$repo" publish --env "$env" --registry "$OCI_REPOSITORY" --ecr-region "$AWS_REGION" > "$work/pushed.txt"
  cat "$work/pushed.txt"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_ECR SSL_CERT_FILE
  step "Argo CD: argocd-root for $env from ${repo#"$root"/} (main), charts from $OCI_REPOSITORY"
  "$platform" --root "$root" cluster argocd -e "$env" --repo "$repo" | tee "$work/argocd.txt"
  step "the comment is in ${work#"$root"/}/comment.md, the pushed references in ${work#"$root"/}/pushed.txt"
  ;;
esac
