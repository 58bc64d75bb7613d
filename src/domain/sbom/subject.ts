/**
 * What an SBOM describes: one image version, named by Image Builder's identity and pinned by the digest of its
 * content (the container manifest, or the machine image's disk), and the deterministic ids derived from it.
 */
import { createHash } from 'node:crypto';

/** The image an SBOM is about. */
export interface SbomSubject {
  /** The image's name (`web-base`). */
  name: string;
  /** Its semantic version and build (`1.0.0/3`). */
  version: string;
  /** Its ARN; with the digest, it seeds the document's namespace and serial number. */
  arn: string;
  /** A container image (the digest is the manifest's) or a machine image (the digest is the disk's). */
  kind: 'container' | 'machine';
  /** `sha256:<64 hex>`. */
  digest: string;
  /** When the image was created (ISO 8601); the document's creation time, so rebuilding the SBOM changes nothing. */
  created: string;
}

/** The creator the documents name. */
export const SBOM_TOOL = { vendor: 'Kiln', name: 'kiln' } as const;

/**
 * A UUID (version 5 layout) derived from the subject's ARN and digest and a label, so the same image always gets
 * the same SPDX namespace and CycloneDX serial number, and two images never share one.
 */
export function subjectUuid(subject: SbomSubject, label: string): string {
  const h = createHash('sha256').update(`${label}\n${subject.arn}\n${subject.digest}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The hex part of a `sha256:` digest; throws naming `digest` for anything else. */
export function sha256Hex(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Error(`digest: expected sha256:<64 hex digits>, got ${JSON.stringify(digest)}`);
  return m[1]!;
}

/** A short stable hash of a string, for ids that must be unique where names alone could collide after cleaning. */
export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/** An ISO 8601 timestamp without fractional seconds (`2026-12-06T23:57:34Z`), as SPDX writes creation times. */
export function wholeSeconds(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) throw new Error(`created: not a timestamp: ${JSON.stringify(iso)}`);
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
