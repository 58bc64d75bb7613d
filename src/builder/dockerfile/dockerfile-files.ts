/**
 * The instructions that change the instance's filesystem: COPY and ADD (context files, here-documents, local
 * archives ADD unpacks) and WORKDIR, which creates its directory as Docker does.
 */
import { posix } from 'node:path';
import type { Instance } from '../../toe/instance/instance.js';
import type { DockerfileInstruction } from './dockerfile-parse.js';
import { splitRaw } from './dockerfile-words.js';
import { matchContext, type MatchedFile } from './dockerfile-context.js';
import { DockerfileStepError, tailOf } from './dockerfile-step-error.js';
import { isRoot, resolveUser } from './dockerfile-users.js';
import { invalid, jsonForm, refuseFlags, type DockerfileState, type InstructionHandler, type Parsed } from './dockerfile-state.js';

async function doWorkdir(s: DockerfileState, p: Parsed): Promise<void> {
  const path = s.lexer().word(p.rest);
  if (path === '') throw invalid('WORKDIR needs a path');
  const wd = posix.resolve(s.workdir(), path);
  s.config.WorkingDir = wd;
  if (wd === '/') {
    s.record('WORKDIR /', false);
    return;
  }
  const created = await mkdirs(s.instance, wd, 0o755);
  const user = s.user();
  if (created.length > 0 && !isRoot(user)) {
    const ids = await resolveUser(s.instance, user);
    await chown(s.instance, `${ids.uid}:${ids.gid}`, created);
  }
  s.record(`WORKDIR ${wd}`, true);
}

async function doCopy(s: DockerfileState, p: Parsed, instruction: DockerfileInstruction): Promise<void> {
  const add = p.keyword === 'ADD';
  if (p.flags.has('from')) throw invalid('--from is not supported: multi-stage builds are not supported');
  refuseFlags(p, ['chown', 'chmod', 'link']);
  const lexer = s.lexer();
  const chownFlag = p.flags.has('chown') ? lexer.word(p.flags.get('chown')!) : undefined;
  const chmodFlag = p.flags.has('chmod') ? lexer.word(p.flags.get('chmod')!) : undefined;
  if (chmodFlag !== undefined && !/^[0-7]{1,4}$/.test(chmodFlag)) throw invalid(`--chmod=${chmodFlag}: only octal modes are supported`);
  const mode = chmodFlag === undefined ? undefined : parseInt(chmodFlag, 8);
  const json = jsonForm(p.rest);
  const words = json ? json.map((w) => lexer.word(w)) : splitRaw(p.rest, s.escape).map((w) => (/^<<-?["']?[A-Za-z_]/.test(w) ? w : lexer.word(w)));
  if (words.length < 2) throw invalid(`${p.keyword} needs a source and a destination`);
  const sources = words.slice(0, -1);
  const destWord = words[words.length - 1]!;
  const heredocs = new Map((instruction.heredocs ?? []).map((h) => [h.name, h]));
  const files: MatchedFile[] = [];
  let many = false;
  for (const src of sources) {
    const doc = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(src);
    if (doc) {
      const h = heredocs.get(doc[2]!);
      if (!h) throw invalid(`here-document ${src} has no body`);
      files.push({ path: h.name, data: Buffer.from(h.quoted ? h.body : lexer.word(h.body.replace(/"/g, `${s.escape}"`).replace(/'/g, `${s.escape}'`))), mode: 0o644 });
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@/.test(src)) {
      throw invalid(`${src}: ${add ? 'ADD of a URL or git repository' : 'COPY from a URL'} is not supported; download it in a RUN step or a component`);
    }
    const matched = matchContext(s.context, src);
    if (matched.directory || matched.files.length > 1) many = true;
    if (matched.files.length === 0 && !matched.directory) throw new Error(`${src}: not found in the build context`);
    files.push(...matched.files);
  }
  const destIsDir = destWord.endsWith('/') || destWord === '.' || destWord.endsWith('/.');
  if (sources.length > 1 && !destIsDir) throw invalid(`When using ${p.keyword} with more than one source file, the destination must be a directory and end with a /`);
  const dest = posix.resolve(s.workdir(), destWord);
  const instance = s.instance;
  const destStat = await instance.fs.stat(dest);
  const intoDir = destIsDir || many || sources.length > 1 || destStat?.type === 'directory';
  const created: string[] = [];
  for (const f of files) {
    const target = intoDir ? posix.join(dest, f.path) : dest;
    created.push(...(await mkdirs(instance, posix.dirname(target), 0o755)));
    if (add && isArchive(f.data)) {
      created.push(...(await extract(s, instruction, f.data, intoDir ? posix.join(dest, posix.dirname(f.path)) : posix.dirname(target))));
      continue;
    }
    await instance.putFile(target, f.data, mode ?? f.mode);
    created.push(target);
  }
  if (chownFlag !== undefined) {
    const ids = await resolveUser(instance, chownFlag);
    await chown(instance, `${ids.uid}:${ids.gid}`, created);
  }
  const flags = `${chownFlag !== undefined ? ` --chown=${chownFlag}` : ''}${chmodFlag !== undefined ? ` --chmod=${chmodFlag}` : ''}`;
  s.record(`${p.keyword}${flags} ${sources.join(' ')} ${destWord} # buildkit`, true);
}

/** ADD unpacks a local tar archive (plain, gzip, bzip2 or xz) with the instance's own tar, as Docker unpacks it. */
async function extract(s: DockerfileState, instruction: DockerfileInstruction, data: Buffer, dir: string): Promise<string[]> {
  const instance = s.instance;
  const archive = s.scratchPath(`kiln-add-${process.pid}-${instruction.line}`);
  await instance.putFile(archive, data, 0o600);
  try {
    const r = await instance.exec(['tar', '-x', '-f', archive, '-C', dir], s.options.signal ? { signal: s.options.signal } : {});
    if (r.exitCode !== 0) throw new DockerfileStepError(`line ${instruction.line}: ADD: unpacking the archive failed (tar exited with ${r.exitCode ?? r.signal ?? r.spawnError}):\n${tailOf(r.stderr)}`, instruction.line, instruction.text, r.exitCode, tailOf(r.stderr));
  } finally {
    await s.removeScratch(archive);
  }
  return [];
}

/** The handlers of these instructions, by keyword. */
export const FILE_INSTRUCTIONS: Readonly<Record<string, InstructionHandler>> = {
  WORKDIR: doWorkdir,
  COPY: doCopy,
  ADD: doCopy,
};

/** Whether ADD unpacks the file: a tar archive, plain or compressed, by its magic bytes. */
function isArchive(data: Buffer): boolean {
  if (data.length >= 262 && data.subarray(257, 262).toString('latin1') === 'ustar') return true;
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  if (data.length >= 3 && data.subarray(0, 3).toString('latin1') === 'BZh') return true;
  return data.length >= 6 && data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
}

/** Creates each missing directory of `dir` with `mode`; returns those it created, outermost first. */
async function mkdirs(instance: Instance, dir: string, mode: number): Promise<string[]> {
  const created: string[] = [];
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    const stat = await instance.fs.stat(path);
    if (stat?.type === 'directory') continue;
    if (stat) throw new Error(`${path} exists and is not a directory`);
    await instance.fs.mkdir(path, { mode });
    created.push(path);
  }
  return created;
}

/** Gives `paths` (links themselves, not their targets) to `owner` with the instance's own chown. */
async function chown(instance: Instance, owner: string, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  const r = await instance.exec(['chown', '-h', owner, '--', ...paths]);
  if (r.exitCode !== 0) throw new Error(`chown ${owner} failed: ${(r.spawnError ?? r.stderr).trim()}`);
}
