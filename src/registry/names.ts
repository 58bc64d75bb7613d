/**
 * Names in the OCI distribution spec: repository names, tags and digests, as both the built-in registry and
 * the client check them. Kiln stores blobs under sha256 only, so other digest algorithms are refused.
 */

/** `a/b/c`: lower-case components joined by `/`, separators `.`, `_`, `__` or dashes inside a component. */
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** The spec's limit on the length of a repository name. */
const MAX_REPOSITORY_LENGTH = 255;

/** Whether `name` is a repository name the spec allows (at most 255 characters). */
export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_REPOSITORY_LENGTH && REPOSITORY_RE.test(name);
}

/** Whether `tag` is a tag: letters, digits, `_ . -`, at most 128, not starting with `.` or `-`. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Whether `digest` is `sha256:<64 lower-case hex>`. */
export function isSha256Digest(digest: string): boolean {
  return DIGEST_RE.test(digest);
}
