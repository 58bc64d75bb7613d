/**
 * Host paths kept out of what tenants see. Failure reasons, step messages, step logs and API errors are read by
 * every account an image belongs to, and an fs error embeds the path it failed on ("ENOENT: no such file or
 * directory, open '/srv/kiln/blobs/…'"): the data directory's location and layout are the operator's business.
 * The places where text leaves for tenants (an image's state change, an execution record's end, a step log,
 * the API and registry error bodies) pass it through redactHostPaths; the full text goes to the server's log.
 *
 * Only the directories Kiln declares are redacted, never every absolute path: paths inside a build instance
 * (/etc/apt/sources.list, /tmp/x) are the tenant's own and what makes a failure understandable.
 */

interface HostRoot {
  root: string;
  /** Matches the root and the rest of the path after it. */
  pattern: RegExp;
  label: string;
}

const roots: HostRoot[] = [];

/** Characters that end a path in a message: whitespace, quotes and the punctuation fs errors put around one. */
const REST = String.raw`[^\s'"\x60,;()\[\]{}<>]*`;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Declares a host directory (absolute) whose path must not reach tenants; its occurrences become `label` followed
 * by the path below it (`<data-dir>/blobs/sha256/…`). With `prefix`, any name starting with the text matches
 * (`/tmp/kiln-` for Kiln's temp folders). Declaring the same root again changes nothing.
 */
export function addHostRoot(root: string, label: string, options: { prefix?: boolean } = {}): void {
  const trimmed = options.prefix ? root : root.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '/' || roots.some((r) => r.root === trimmed)) return;
  // A whole directory name only: /srv/kiln is not a prefix of /srv/kiln2.
  const boundary = options.prefix ? '' : String.raw`(?=$|[/\s'"\x60,;:)\]}>])`;
  roots.push({ root: trimmed, pattern: new RegExp(`${escape(trimmed)}${boundary}${REST}`, 'g'), label });
  // Longest first, so a root inside another is named by the innermost declaration.
  roots.sort((a, b) => b.root.length - a.root.length);
}

/** `text` with every declared host path replaced by its root's label and the part below the root. */
export function redactHostPaths(text: string): string {
  let out = text;
  for (const { root, pattern, label } of roots) {
    if (out.includes(root)) out = out.replace(pattern, (match) => `${label}${match.slice(root.length)}`);
  }
  return out;
}
