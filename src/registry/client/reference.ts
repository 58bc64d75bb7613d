/**
 * Image references as Docker reads them: `debian:12` is `registry-1.docker.io/library/debian:12`; a first
 * component with a `.` or `:`, or `localhost`, is a registry host (`host:5000/a/b@sha256:…`).
 */
import { KilnError } from '../../domain/errors.js';
import { isRepositoryName, isSha256Digest, isTag } from '../names.js';

export interface ImageReference {
  /** `host[:port]` the registry API is reached at. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** Docker Hub's API host; `docker.io` and `index.docker.io` in references mean it too. */
export const DOCKER_HUB = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', DOCKER_HUB]);

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The canonical API host for a registry name (Docker Hub's aliases become its API host). */
export function normalizeRegistryHost(host: string): string {
  return DOCKER_HUB_ALIASES.has(host.toLowerCase()) ? DOCKER_HUB : host;
}

/** Parses a reference; InvalidArgument names the reference and what is wrong with it. */
export function parseImageReference(text: string): ImageReference {
  const bad = (why: string) => new KilnError('InvalidArgument', `image reference ${JSON.stringify(text)} is invalid: ${why}`);
  const input = text.trim();
  if (input === '') throw bad('it is empty');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isSha256Digest(digest)) throw bad(`${JSON.stringify(digest)} is not a sha256 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && !rest.endsWith(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw bad(`${JSON.stringify(tag)} is not a valid tag`);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let registry: string;
  let repository: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!HOST_RE.test(first)) throw bad(`${JSON.stringify(first)} is not a registry host`);
    registry = normalizeRegistryHost(first);
    repository = rest.slice(slash + 1);
  } else {
    registry = DOCKER_HUB;
    repository = rest;
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!isRepositoryName(repository)) throw bad(`${JSON.stringify(repository)} is not a repository name (lower-case letters, digits, separators . _ -, components joined by /)`);
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `registry/repository[:tag][@digest]`, which parseImageReference reads back to the same reference. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
