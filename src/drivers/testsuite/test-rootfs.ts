import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Host programs copied into the test root, with the shared libraries each needs. */
const PROGRAMS = ['bash', 'cat', 'ls', 'sleep', 'mkdir', 'rm', 'stat', 'id', 'env', 'chmod', 'chown', 'ps', 'readlink', 'touch', 'mv', 'cp', 'true', 'false', 'seq', 'wc', 'head', 'grep', 'hostname', 'tr', 'printf', 'pwd', 'echo', 'mknod', 'mount', 'umount', 'prlimit', 'dd', 'kill', 'perl'];

/** Where each program is on this host ('' when missing), from one bash run. */
function which(programs: string[]): string[] {
  const out = execFileSync('bash', ['--norc', '-c', 'for p; do type -P "$p" || echo; done', 'bash', ...programs], { encoding: 'utf8' });
  return out.split('\n').slice(0, programs.length);
}

/** The shared libraries (and loader) of all the binaries, from one ldd run. */
function libraries(binaries: string[]): string[] {
  const out = execFileSync('ldd', binaries, { encoding: 'utf8' });
  const libs = [...out.matchAll(/\s(\/\S+) \(0x/g)].map((m) => m[1]!);
  return [...new Set(libs)];
}

/**
 * Builds a small Linux root with bash and a few coreutils copied from this host, laid out like a merged-/usr
 * Debian (bin, sbin and lib are symlinks into usr), in a new temp dir. Offline and fast (tens of ms), so the
 * driver tests need no network and no base image. The caller removes it with `cleanup`.
 */
export function buildTestRootfs(): { path: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'kiln-test-rootfs-'));
  try {
    for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'etc', 'root', 'tmp', 'proc', 'dev', 'var/tmp']) mkdirSync(join(root, d), { recursive: true });
    for (const [link, to] of [['bin', 'usr/bin'], ['sbin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) symlinkSync(to!, join(root, link!));
    const copy = (file: string, to: string) => {
      const dest = join(root, to);
      if (existsSync(dest)) return;
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(file, dest);
    };
    const paths = which(PROGRAMS);
    const found: string[] = [];
    PROGRAMS.forEach((program, i) => {
      const path = paths[i];
      if (!path) return;
      copy(path, `usr/bin/${program}`);
      found.push(path);
    });
    for (const lib of libraries(found)) copy(lib, lib.replace(/^\/(lib|lib64)\//, 'usr/$1/').replace(/^\//, ''));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    writeFileSync(join(root, 'etc/os-release'), 'ID=kiln-test\n');
    execFileSync('chmod', ['1777', join(root, 'tmp'), join(root, 'var/tmp')]);
    return { path: root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

let shared: string | undefined;

/** One test root per test process, built on first use and removed when the process exits. */
export function sharedTestRootfs(): string {
  if (shared === undefined) {
    const built = buildTestRootfs();
    process.once('exit', built.cleanup);
    shared = built.path;
  }
  return shared;
}
