#!/usr/bin/env bash
# Installs what Kiln needs on a Debian 12 machine, as root: Debian packages, the npm packages, then the build.
#   scripts/install.sh          what `kiln` needs to run
#   scripts/install.sh --test   also what the tests need (real tools the tests drive)
#   --prefetch-bases (or KILN_PREFETCH_BASES=1): also bootstrap the managed Debian bases into the data directory
#   ($KILN_DATA_DIR or ./.kiln) now, so the first build does not wait for them
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=(bash coreutils unzip util-linux iproute2 ca-certificates python3 make g++ attr zstd pigz tar perl-base slirp4netns runc golang-github-containers-common mmdebstrap qemu-system-x86 qemu-utils fdisk mtools dosfstools ovmf systemd-boot-efi grub-pc-bin e2fsprogs)
testing=(sudo adduser iputils-ping openssl awscli umoci skopeo docker-registry podman apache2-utils chromium postgresql-15)
want=("${runtime[@]}")
prefetch="${KILN_PREFETCH_BASES:-0}"
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${testing[@]}") ;;
    --prefetch-bases) prefetch=1 ;;
  esac
done

# Kiln runs on Node.js 24, the LTS that better-sqlite3 12 and the AWS SDK both support for the longest. When the
# machine's node is another major (Debian 12 ships 18), this pinned Node and npm come from the npm registry, checked
# against the integrity the registry published for them, into .node/ in this checkout; scripts/node-env.sh, bin/kiln
# and the package scripts put it first. The registry's node-linux-<arch> package holds Node's binary and its headers,
# which node-gyp builds better-sqlite3 against; it has no npm, hence npm's own package beside it.
node_version=24.22.3
declare -A node_integrity=(
  [x64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)
npm_version=11.21.3
npm_integrity=sha512-5Cf+jE+XctbhH/zjOOqXC+ity7eec/Tkk4Ql38tf6w+1htp2wYPHmE4c1R1Es3DY227Ac14+SLrlYJwkBicbTg==
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
pinned="node $node_version npm $npm_version linux-$arch"

# A Kiln Node from an earlier run comes first; it is kept while it matches the pins.
. scripts/node-env.sh
supported_node() {
  command -v node >/dev/null && node -e 'const m = Number(process.versions.node.split(".")[0]); process.exit(m >= 24 && m < 26 ? 0 : 1)'
}
need_node=false
if [[ -x .node/bin/node ]]; then
  [[ "$(cat .node/VERSION 2>/dev/null)" == "$pinned" ]] || need_node=true
elif ! supported_node; then
  need_node=true
fi
# Fetching the pinned Node takes an npm, Debian's one on a machine without any.
$need_node && ! command -v npm >/dev/null && want+=(npm)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "kiln install: Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# fetch NAME VERSION INTEGRITY DIR: the package's tarball from the registry npm is set to use, into DIR; prints its path.
fetch() {
  local dir="$4/$1" want got
  mkdir "$dir"
  (cd "$dir" && npm pack --no-audit --no-fund --loglevel=error "$1@$2" >/dev/null) || return 1
  local files=("$dir"/*.tgz)
  want=$(printf %s "${3#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  got=$(sha512sum "${files[0]}" | cut -d ' ' -f 1)
  if [[ "$got" != "$want" ]]; then
    echo "kiln install: $1@$2: the tarball's sha512 is not the pinned integrity $3" >&2
    return 1
  fi
  printf '%s\n' "${files[0]}"
}
if $need_node; then
  if [[ -z "${node_integrity[$arch]:-}" ]]; then
    echo "kiln install: no pinned Node.js for $(uname -m); install Node.js 24 and run this again" >&2
    exit 1
  fi
  echo "kiln install: Node.js $node_version into .node/ (found: $(node --version 2>/dev/null || echo none))" >&2
  work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-node.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  node_tgz=$(fetch "node-linux-$arch" "$node_version" "${node_integrity[$arch]}" "$work")
  npm_tgz=$(fetch npm "$npm_version" "$npm_integrity" "$work")
  # Assembled beside .node/ and renamed over it, so that an interrupted install never leaves half a Node in use.
  rm -rf .node.new
  mkdir -p .node.new/lib/node_modules/npm
  tar -xzf "$node_tgz" -C .node.new --strip-components=1
  tar -xzf "$npm_tgz" -C .node.new/lib/node_modules/npm --strip-components=1
  for tool in npm npx; do
    # npm's own scripts start with `#!/usr/bin/env node`; these run it on this Node whatever PATH says.
    printf '#!/bin/sh\nd=$(dirname "$(readlink -f "$0")")\nexec "$d/node" "$d/../lib/node_modules/npm/bin/%s-cli.js" "$@"\n' "$tool" > ".node.new/bin/$tool"
    chmod 755 ".node.new/bin/$tool"
  done
  # npm reads its global config from its own prefix; linking the machine npm's one there keeps what the machine set
  # for every npm (registry, proxy, CA file) in force for this npm too.
  machine_npmrc=$(readlink -f "$(npm config get globalconfig 2>/dev/null)" || true)
  if [[ -n "$machine_npmrc" && -f "$machine_npmrc" ]]; then
    mkdir -p .node.new/etc
    ln -s "$machine_npmrc" .node.new/etc/npmrc
  fi
  printf '%s\n' "$pinned" > .node.new/VERSION
  .node.new/bin/node -e 'process.exit(0)'
  rm -rf .node
  mv .node.new .node
  . scripts/node-env.sh
fi

# node-gyp builds better-sqlite3 against the headers of the Node that will load it. Set here only: npm 11 warns
# about this variable on every command (a node-gyp setting, not one of npm's own).
if [[ -x .node/bin/node ]]; then export npm_config_nodedir="$PWD/.node"; fi

# npm ci installs exactly the lockfile; it is skipped when node_modules was installed from this lockfile already, by
# a Node with this ABI (better-sqlite3 is built for one Node ABI, and fails to load on another).
abi=$(node -p process.versions.modules)
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json || "$(cat node_modules/.kiln-node-abi 2>/dev/null)" != "$abi" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$abi" > node_modules/.kiln-node-abi
fi
npm run --silent build

# The web console is its own package (web/): installed the same way, then built into web/dist for kiln serve.
if [[ ! -f web/node_modules/.package-lock.json || web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
  npm ci --prefix web --no-audit --no-fund --loglevel=error
fi
npm run --silent --prefix web build >/dev/null

if [[ "$prefetch" == 1 ]]; then
  bin/kiln bases prefetch --offline
fi
