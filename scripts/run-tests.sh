#!/usr/bin/env bash
# Runs every test file under dist/ (npm test builds it first). Many test files start Kiln servers that bootstrap
# the same Debian bases; they share mmdebstrap's output through a cache made for this run only and removed after
# it, so the first bootstrap of each kind in a run still runs mmdebstrap for real. The `kiln serve` processes
# tests spawn do not prepare the bases in the background (KILN_PREFETCH_BASES=0): only builds that need one do.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
cache=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test-bootstrap.XXXXXX")
trap 'rm -rf "$cache"' EXIT
# Node 22 and later take the files to run as globs (expanded by Node, hence the quotes), and no longer a folder.
KILN_PREFETCH_BASES=0 KILN_BOOTSTRAP_CACHE="$cache" node --test "${@:-dist/**/*.test.js}"
