/**
 * Where `kiln build --output` puts what it built, out of the data directory:
 *   oci:DIR[:TAG]             an OCI image layout (TAG default `latest`)
 *   docker-archive:FILE[:REF] a `docker load` archive (skopeo, from the OCI layout)
 *   REGISTRY/REPO:TAG         pushed with skopeo (credentials from the containers auth file, as skopeo finds them)
 *   disk:FILE.EXT             a machine image's disk; EXT is qcow2, raw, vmdk or vhd
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isDiskFormat, type DiskFormat } from '../../artifacts/disk/convert.js';
import { exportLayout } from '../../artifacts/oci/image.js';
import { parseArn } from '../../domain/arn.js';
import { exportMachineDisk } from '../build-engine.js';
import { BuildInputError, type RecipeKind } from './inputs.js';
import type { LocalEngine } from './local-engine.js';
import type { LocalBuildResult } from './build-result.js';

export type OutputSpec =
  | { kind: 'oci'; dir: string; tag: string }
  | { kind: 'docker-archive'; file: string; reference?: string }
  | { kind: 'registry'; reference: string; host: string }
  | { kind: 'disk'; file: string; format: DiskFormat };

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Whether a registry host is this machine's loopback, which a local registry serves without TLS (as Docker assumes). */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\./.test(name) || name === '[::1]';
}

/** Parses `--output`; a container or machine output must match the recipe's kind. */
export function parseOutputSpec(text: string, kind: RecipeKind): OutputSpec {
  const wrong = (what: string) => new BuildInputError(`--output: ${what} is an output of ${kind === 'image' ? 'container recipes; an image recipe makes a machine image (disk:FILE.qcow2)' : 'image (machine) recipes; a container recipe makes oci:DIR, docker-archive:FILE or REGISTRY/REPO:TAG'}`);
  if (text.startsWith('disk:')) {
    if (kind !== 'image') throw wrong('disk:');
    const file = text.slice('disk:'.length);
    const ext = path.extname(file).slice(1).toLowerCase();
    if (!file || !isDiskFormat(ext)) throw new BuildInputError('--output: disk:FILE must end in .qcow2, .raw, .vmdk or .vhd (its format)');
    return { kind: 'disk', file: path.resolve(file), format: ext };
  }
  if (kind === 'image') throw wrong(text.split(':')[0] ?? text);
  if (text.startsWith('oci:')) {
    const rest = text.slice('oci:'.length);
    const m = /^(.+?)(?::([^:/]+))?$/.exec(rest);
    if (!m) throw new BuildInputError('--output: oci:DIR[:TAG] needs a directory');
    const tag = m[2] ?? 'latest';
    if (!TAG_RE.test(tag)) throw new BuildInputError(`--output: oci:DIR:TAG has an invalid tag '${tag}'`);
    return { kind: 'oci', dir: path.resolve(m[1]!), tag };
  }
  if (text.startsWith('docker-archive:')) {
    const rest = text.slice('docker-archive:'.length);
    const colon = rest.indexOf(':');
    const file = colon < 0 ? rest : rest.slice(0, colon);
    if (!file) throw new BuildInputError('--output: docker-archive:FILE[:REF] needs a file');
    return { kind: 'docker-archive', file: path.resolve(file), ...(colon < 0 ? {} : { reference: rest.slice(colon + 1) }) };
  }
  const reference = text.replace(/^docker:\/\//, '');
  const slash = reference.indexOf('/');
  const host = slash < 0 ? '' : reference.slice(0, slash);
  // A registry reference names its host (with a dot, a port, or localhost), a repository and a tag.
  if (!host || !/[.:]|^localhost$/.test(host) || !/^[^\s@]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(reference.slice(slash + 1))) {
    throw new BuildInputError(`--output: '${text}' is neither oci:DIR, docker-archive:FILE, disk:FILE nor REGISTRY/REPO:TAG`);
  }
  return { kind: 'registry', reference, host };
}

/** Runs skopeo; its error names the output as given, and the temp layout as `<layout>`. */
async function skopeo(args: string[], layout: string, signal?: AbortSignal): Promise<void> {
  try {
    await promisify(execFile)('skopeo', args, { encoding: 'utf8', maxBuffer: 16 << 20, ...(signal ? { signal } : {}) });
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new BuildInputError('--output: needs skopeo on PATH (Debian package skopeo)');
    const text = (e.stderr || e.message).trim().split(layout).join('<layout>');
    throw new Error(`skopeo copy failed: ${text}`);
  }
}

/**
 * Writes the built image to `spec`; returns where it went (a path or a reference). `tlsVerify` for a registry
 * push: undefined verifies TLS except on a loopback registry.
 */
export async function writeBuildOutput(engine: LocalEngine, result: LocalBuildResult, spec: OutputSpec, options: { tlsVerify?: boolean; signal?: AbortSignal } = {}): Promise<string> {
  const services = engine.server.engine!.services;
  if (spec.kind === 'disk') {
    if (!result.amiId) throw new Error('the build made no machine image to write as a disk');
    const owner = parseArn(result.image)!.owner;
    const signal = options.signal ?? new AbortController().signal;
    const disk = await exportMachineDisk(services, { accountId: owner, region: engine.region }, result.amiId, spec.format, signal);
    const partial = path.join(path.dirname(spec.file), `.${path.basename(spec.file)}.partial-${process.pid}`);
    try {
      await copyFile(disk.path, partial);
      await rename(partial, spec.file);
    } finally {
      await rm(partial, { force: true });
      await disk.release();
    }
    return spec.file;
  }
  if (!result.digest) throw new Error('the build made no container image to write');
  if (spec.kind === 'oci') {
    await exportLayout(services.blobs, result.digest, spec.dir, spec.tag);
    return `oci:${spec.dir}:${spec.tag}`;
  }
  const work = await mkdtemp(path.join(tmpdir(), 'kiln-build-out-'));
  try {
    const layout = path.join(work, 'layout');
    await exportLayout(services.blobs, result.digest, layout, 'latest');
    if (spec.kind === 'docker-archive') {
      // skopeo refuses to write into an existing archive; the output replaces it, as docker save -o does.
      await rm(spec.file, { force: true });
      await skopeo(['copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${spec.file}${spec.reference ? `:${spec.reference}` : ''}`], layout, options.signal);
      return spec.file;
    }
    const verify = options.tlsVerify ?? !isLoopbackHost(spec.host);
    // The digest printed is the one built: without --preserve-digests skopeo may swap in another compression of a
    // layer it has seen before (its blob-info cache), and the pushed manifest would differ.
    await skopeo(['copy', '--quiet', '--preserve-digests', `--dest-tls-verify=${verify}`, `oci:${layout}:latest`, `docker://${spec.reference}`], layout, options.signal);
    return spec.reference;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
