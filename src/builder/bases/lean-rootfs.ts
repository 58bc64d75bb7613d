/**
 * How lean a managed base is. `container` reproduces Docker's official `debian:*-slim` images: merged /usr the
 * way debootstrap sets it up (so the usrmerge package and the perl it needs stay out), the slim path filters
 * (slim-paths.ts) in place before dpkg first runs and kept for every later install, and the apt and dpkg
 * configuration those images carry, under the same file names, so that a component written for them (one
 * that deletes `docker-clean` to keep its downloads, say) behaves the same here. `machine` is a booting system
 * whose documentation stays; it only gets `docker-clean`, so installing packages leaves no .deb and no binary
 * package cache behind.
 */
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { removeSlimExcluded, slimDpkgConfig } from './slim-paths.js';

/** Which lean profile a base gets; see the module comment. */
export type LeanProfile = 'container' | 'machine';

/** mmdebstrap's hook that sets up merged /usr as debootstrap does and installs usr-is-merged instead of usrmerge. */
export const MERGED_USR_HOOK = '/usr/share/mmdebstrap/hooks/merged-usr';

/** The shell command apt runs after each dpkg run and each update: what `apt-get clean` would remove. */
const APT_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";';

/** `docker-clean`: an image layer keeps whatever a step leaves, and a downloaded .deb is never used again. */
const DOCKER_CLEAN = `// Keep no downloaded packages and no binary package cache: in an image they only make the layer larger.
// Delete this file to keep them (apt-get clean then frees them as usual).
DPkg::Post-Invoke { ${APT_CLEAN} };
APT::Update::Post-Invoke { ${APT_CLEAN} };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`;

/** The container profile's files beyond the slim filters and docker-clean, relative to the root, with their text. */
const CONTAINER_FILES: readonly (readonly [string, string, number])[] = [
  ['etc/apt/apt.conf.d/docker-gzip-indexes', '// Lists fetched by "apt-get update" stay compressed on disk, so a layer that keeps them is smaller.\nAcquire::GzipIndexes "true";\n', 0o644],
  ['etc/apt/apt.conf.d/docker-no-languages', '// No translated package descriptions: "apt-get update" fetches less. Delete this file to get them.\nAcquire::Languages "none";\n', 0o644],
  [
    'etc/apt/apt.conf.d/docker-autoremove-suggests',
    '// "apt-get purge --auto-remove" removes what an install pulled in, even when another package only suggests it.\nApt::AutoRemove::SuggestsImportant "false";\n',
    0o644,
  ],
  // A build instance is thrown away after the build, so dpkg's fsync per file buys nothing there.
  ['etc/dpkg/dpkg.cfg.d/docker-apt-speedup', '# Packages are installed in throwaway build instances: skip the sync after each file.\nforce-unsafe-io\n', 0o644],
  // Maintainer scripts start services through invoke-rc.d, which asks this first: a build instance runs no services.
  ['usr/sbin/policy-rc.d', '#!/bin/sh\n# Installing a package in an image build starts none of its services (invoke-rc.d reads this).\nexit 101\n', 0o755],
];

/** Where the slim filters live in the image, named as in Docker's images so that deleting it brings docs back. */
const SLIM_DPKG_FILE = 'etc/dpkg/dpkg.cfg.d/docker';

function slimDpkgFile(): string {
  return `# The files of a slim image: no documentation but copyright files, no man or info pages, no translations.\n# Delete this file before installing a package to get all of its files.\n${slimDpkgConfig()}`;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What mmdebstrap is run with for a profile, and what of it the bootstrap cache must key on. */
export interface LeanBootstrap {
  args: string[];
  /** Everything about `args` that changes mmdebstrap's output (the host folder of the config file does not). */
  fingerprint: unknown;
  /** A line for the bootstrap's output when the host's mmdebstrap cannot do all the profile asks. */
  note?: string;
}

/**
 * mmdebstrap arguments for `profile`: for `container` a setup hook that puts the slim dpkg filters in place
 * before dpkg first runs (the file is written to `workDir`, which must outlive the mmdebstrap run), and the
 * merged-usr hook when this mmdebstrap has it. `machine` adds none.
 *
 * Not `--dpkgopt`: mmdebstrap would then also filter its own unpacking of the Essential packages, through a
 * Python tar filter per package, and that phase took 186 s instead of 16 s here (same load); what the unfiltered
 * unpacking writes is removed afterwards by applyLeanProfile instead.
 */
export async function leanBootstrapArgs(profile: LeanProfile | undefined, workDir: string): Promise<LeanBootstrap> {
  if (profile !== 'container') return { args: [], fingerprint: null };
  const config = path.join(workDir, 'slim-dpkg.cfg');
  await fsp.writeFile(config, slimDpkgFile(), { mode: 0o644 });
  const mergedUsr = existsSync(MERGED_USR_HOOK);
  const target = `"$1/${SLIM_DPKG_FILE}"`;
  return {
    args: [`--setup-hook=mkdir -p "$1/${path.posix.dirname(SLIM_DPKG_FILE)}" && cp ${shellQuote(config)} ${target} && chmod 0644 ${target}`, ...(mergedUsr ? [`--hook-dir=${MERGED_USR_HOOK}`] : [])],
    fingerprint: { slim: slimDpkgFile(), mergedUsr },
    ...(mergedUsr ? {} : { note: 'this mmdebstrap has no merged-usr hook: usrmerge (and perl) will be installed\n' }),
  };
}

/**
 * Finishes the root filesystem at `rootfs`, bootstrapped with `leanBootstrapArgs(profile)`, for `profile`:
 * writes the apt and dpkg configuration and, for `container`, removes whatever the slim filters should have
 * kept out but dpkg did not write (mmdebstrap's own unpacking of the Essential packages, files made by
 * maintainer scripts). Returns the paths removed.
 */
export async function applyLeanProfile(rootfs: string, profile: LeanProfile | undefined): Promise<string[]> {
  if (!profile) return [];
  const write = async (rel: string, text: string, mode: number) => {
    const at = path.join(rootfs, rel);
    await fsp.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
    await fsp.writeFile(at, text, { mode });
    await fsp.chmod(at, mode);
  };
  await write('etc/apt/apt.conf.d/docker-clean', DOCKER_CLEAN, 0o644);
  if (profile !== 'container') return [];
  for (const [rel, text, mode] of CONTAINER_FILES) await write(rel, text, mode);
  await write(SLIM_DPKG_FILE, slimDpkgFile(), 0o644);
  return removeSlimExcluded(rootfs);
}
