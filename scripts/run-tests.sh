#!/usr/bin/env bash
# Runs every test file under dist/ (npm test builds it first), or the files given as arguments. Many test files start
# Kiln servers that bootstrap the same Debian bases; they share mmdebstrap's output through a cache made for this run
# only and removed after it, so the first bootstrap of each kind in a run still runs mmdebstrap for real. The
# `kiln serve` processes tests spawn do not prepare the bases in the background (KILN_PREFETCH_BASES=0): only builds
# that need one do.
#
# The whole suite runs in two lanes at once, each one file at a time (node --test's default on two cores). The
# slowest files boot VMs under TCG, which keeps one core busy; in a lane of their own they take about half the run,
# and everything else runs beside them in the other lane instead of after them. Each lane's lines carry its name.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
cache=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test-bootstrap.XXXXXX")
trap 'rm -rf "$cache"' EXIT
export KILN_PREFETCH_BASES=0 KILN_BOOTSTRAP_CACHE="$cache"

# Node 22 and later take the files to run as globs (expanded by Node, hence the quotes), and no longer a folder.
# Not exec: the trap removes the bootstrap cache when node is done.
if [ $# -gt 0 ]; then
  node --test "$@"
  exit
fi

slow=(dist/test/build/machine-image.test.js dist/test/build/vm-import.test.js dist/test/build/distribution.test.js dist/src/drivers/vm/vm-driver.test.js)
for f in "${slow[@]}"; do
  [ -f "$f" ] || { echo "run-tests.sh: $f is not there any more: update the slow lane" >&2; exit 2; }
done
mapfile -t rest < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort | grep -vxF -f <(printf '%s\n' "${slow[@]}"))

lane() {
  local name=$1
  shift
  # A lane's status is node's, not sed's; sed -u keeps the lines coming as they are written.
  set +e
  node --test "$@" 2>&1 | sed -u "s/^/[$name] /"
  local status=${PIPESTATUS[0]}
  set -e
  echo "[$name] exit $status"
  return "$status"
}

lane vm "${slow[@]}" &
vm=$!
status=0
lane all "${rest[@]}" || status=$?
wait "$vm" || status=$?
exit "$status"
