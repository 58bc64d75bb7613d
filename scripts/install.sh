#!/usr/bin/env bash
# Installs what Kiln needs on a Debian 12 machine, as root: Debian packages, the npm packages, then the build.
#   scripts/install.sh          what `kiln` needs to run
#   scripts/install.sh --test   also what the tests need (real tools the tests drive)
#   --prefetch-bases (or KILN_PREFETCH_BASES=1): also bootstrap the managed Debian bases into the data directory
#   ($KILN_DATA_DIR or ./.kiln) now, so the first build does not wait for them
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=(bash coreutils util-linux iproute2 ca-certificates python3 make g++ attr zstd tar perl-base slirp4netns runc golang-github-containers-common mmdebstrap qemu-system-x86 qemu-utils fdisk mtools dosfstools ovmf systemd-boot-efi grub-pc-bin e2fsprogs)
testing=(sudo adduser iputils-ping openssl awscli umoci skopeo docker-registry podman apache2-utils chromium postgresql-15)
want=("${runtime[@]}")
prefetch="${KILN_PREFETCH_BASES:-0}"
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${testing[@]}") ;;
    --prefetch-bases) prefetch=1 ;;
  esac
done

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

if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "kiln install: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci installs exactly the lockfile; it is skipped when node_modules was installed from this lockfile already.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
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
