#!/bin/sh
# The CI gate for an image made with nixbuild: the lock still matches the app, the image is
# reproducible (rebuilt with `nix-build --check` and in a second, empty Nix store), and only
# then it is pushed. Copy it into your repository; GitHub Actions runs it from workflow.yml.
#
#   gate.sh [APP [DESTINATION]]
#
#   APP          the app file (default: $NIXBUILD_APP, else app.py)
#   DESTINATION  where to push: docker://HOST/REPO:TAG (default: $NIXBUILD_PUSH_TO; required)
#
# Environment:
#   NIXBUILD            how to run nixbuild (default: nixbuild)
#   NIXBUILD_CACHE_DIR  nixbuild's cache (downloaded .debs, signed indexes, specs): keep it
#                       between runs (default: .nixbuild-cache in the current folder)
#   NIXBUILD_REPORT     where `nixbuild check --json` writes its report, also when the check
#                       fails: which layer, file and field differ (default: nixbuild-check.json)
#
# Exit status: nixbuild's (5 stale lock, 7 not reproducible, ...); nothing is pushed unless the
# lock and the check pass. Push credentials are skopeo's (`skopeo login` before this script).
set -eu

app=${1:-${NIXBUILD_APP:-app.py}}
destination=${2:-${NIXBUILD_PUSH_TO:-}}
if [ -z "$destination" ]; then
    echo "gate.sh: no destination: pass docker://HOST/REPO:TAG or set NIXBUILD_PUSH_TO" >&2
    exit 2
fi
nixbuild=${NIXBUILD:-nixbuild}
NIXBUILD_CACHE_DIR=${NIXBUILD_CACHE_DIR:-$PWD/.nixbuild-cache}
export NIXBUILD_CACHE_DIR
report=${NIXBUILD_REPORT:-nixbuild-check.json}

echo "== nixbuild lock --check $app"
$nixbuild lock "$app" --check

echo "== nixbuild check $app (report: $report)"
$nixbuild check "$app" --json > "$report"

echo "== nixbuild push $app $destination"
$nixbuild push "$app" "$destination"
