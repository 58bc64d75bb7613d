/**
 * Reads one vulnerability feed into advisories: a local JSON file, a zip of OSV files (as OSV's exports are), a
 * folder of either, or the same served over http(s). Zips are unpacked with `unzip` into a temporary folder
 * that is removed afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../domain/errors.js';
import { debianTrackerAdvisories, osvAdvisories, type Advisory } from '../domain/vulnerability-advisories.js';
import type { FeedConfig, FeedFormat } from './feed-config.js';

const run = promisify(execFile);

/** The advisories of one JSON document: an OSV record, a list of them, or the tracker's whole JSON. */
function parseDocument(format: FeedFormat, text: string, where: string): Advisory[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${errorMessage(err)})`);
  }
  if (format === 'debian-security-tracker') return debianTrackerAdvisories(json);
  return (Array.isArray(json) ? json : [json]).flatMap(osvAdvisories);
}

/** Every .json file under `dir`, recursively, in name order (so a feed loads the same way each time). */
async function jsonFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await jsonFiles(p)));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

async function folderAdvisories(format: FeedFormat, dir: string, label: string, signal: AbortSignal): Promise<Advisory[]> {
  const out: Advisory[] = [];
  for (const file of await jsonFiles(dir)) {
    signal.throwIfAborted();
    out.push(...parseDocument(format, await readFile(file, 'utf8'), `${label}: ${path.relative(dir, file)}`));
  }
  return out;
}

async function zipAdvisories(format: FeedFormat, zip: string, label: string, signal: AbortSignal): Promise<Advisory[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-feed-'));
  try {
    await run('unzip', ['-q', '-o', zip, '-d', dir], { signal, maxBuffer: 1 << 20 }).catch((err: unknown) => {
      throw new Error(`${label}: not a readable zip (${errorMessage(err).split('\n')[0]})`);
    });
    return await folderAdvisories(format, dir, label, signal);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => process.stderr.write(`kiln: could not remove the unpacked feed folder ${dir}: ${errorMessage(err)}\n`));
  }
}

const isZip = (bytes: Uint8Array): boolean => bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;

/** Fetches a URL feed: a zip is kept in a temporary file for unzip, anything else is parsed as JSON. */
async function urlAdvisories(format: FeedFormat, url: string, label: string, signal: AbortSignal): Promise<Advisory[]> {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`${label}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!isZip(bytes)) return parseDocument(format, Buffer.from(bytes).toString('utf8'), label);
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-feed-zip-'));
  try {
    const file = path.join(dir, 'feed.zip');
    await writeFile(file, bytes);
    return await zipAdvisories(format, file, label, signal);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => process.stderr.write(`kiln: could not remove the downloaded feed ${dir}: ${errorMessage(err)}\n`));
  }
}

/**
 * Every advisory of one feed; throws naming `label` (the configuration field, `vulnerabilityFeeds[0]`) and the
 * file inside a folder or zip, never the host's path, when it cannot be read.
 */
export async function loadFeed(feed: FeedConfig, label: string, signal: AbortSignal): Promise<Advisory[]> {
  if ('url' in feed) return urlAdvisories(feed.format, feed.url, label, signal);
  const info = await stat(feed.path).catch(() => undefined);
  if (!info) throw new Error(`${label}: no such file or folder`);
  if (info.isDirectory()) return folderAdvisories(feed.format, feed.path, label, signal);
  const head = await readFile(feed.path);
  if (isZip(head)) return zipAdvisories(feed.format, feed.path, label, signal);
  return parseDocument(feed.format, head.toString('utf8'), label);
}
