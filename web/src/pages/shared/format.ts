/** Small text helpers shared by the resource pages: dates, ARNs, and where an ARN's resource is shown. */

/** A date from the API (an ISO string or a Date, as the SDK gives them) as local date and time. */
export function formatDate(value: string | Date | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The ISO form for a `<time dateTime>` attribute. */
export function isoDate(value: string | Date | undefined | null): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The parts of an Image Builder ARN: `arn:aws:imagebuilder:<region>:<owner>:<type>/<name>[/<version>[/<build>]]`. */
export interface ArnParts {
  region: string;
  owner: string;
  type: string;
  name: string;
  version?: string;
  build?: string;
}

export function parseArn(arn: string | undefined): ArnParts | undefined {
  const m = /^arn:aws[^:]*:imagebuilder:([^:]*):([^:]*):(.+)$/.exec(arn ?? '');
  if (!m) return undefined;
  const segments = m[3]!.split('/');
  // Workflows are `workflow/<build|test|distribution>/<name>/…`: the type takes two segments.
  const typeLength = segments[0] === 'workflow' ? 2 : 1;
  const type = segments.slice(0, typeLength).join('/');
  const [name = '', version, build] = segments.slice(typeLength);
  return { region: m[1]!, owner: m[2]!, type, name, ...(version === undefined ? {} : { version }), ...(build === undefined ? {} : { build }) };
}

/** The console section that shows a resource type, if any. */
const SECTION_OF_TYPE: Record<string, string> = {
  'image-pipeline': 'pipelines',
  image: 'images',
  'image-recipe': 'image-recipes',
  'container-recipe': 'container-recipes',
  component: 'components',
  'infrastructure-configuration': 'infrastructure-configurations',
  'distribution-configuration': 'distribution-configurations',
  'lifecycle-policy': 'lifecycle-policies',
};

export function sectionOfArn(arn: string | undefined): string | undefined {
  const parts = parseArn(arn);
  return parts ? SECTION_OF_TYPE[parts.type] : undefined;
}

const NOUN_OF_TYPE: Record<string, string> = {
  'image-pipeline': 'image pipeline',
  image: 'image',
  'image-recipe': 'image recipe',
  'container-recipe': 'container recipe',
  component: 'component',
  'infrastructure-configuration': 'infrastructure configuration',
  'distribution-configuration': 'distribution configuration',
  'lifecycle-policy': 'lifecycle policy',
};

/** What an ARN names, in words: "image recipe web 1.0.0". */
export function arnNounLabel(arn: string): string {
  const parts = parseArn(arn);
  const noun = parts ? (NOUN_OF_TYPE[parts.type] ?? parts.type.replace(/[-/]/g, ' ')) : '';
  return `${noun} ${arnLabel(arn)}`.trim();
}

/** A short readable name for an ARN: `type name version[/build]`. */
export function arnLabel(arn: string | undefined): string {
  const parts = parseArn(arn);
  if (!parts) return arn ?? '';
  return [parts.name, parts.version, parts.build].filter((p) => p !== undefined).join(' ').replace(/ (\d+)$/, '/$1');
}

/** Every Image Builder ARN a text names (an API error message, say), without trailing punctuation. */
export function arnsIn(text: string): string[] {
  const found = text.match(/arn:aws[^:\s]*:imagebuilder:[^\s,;()]+/g) ?? [];
  return [...new Set(found.map((a) => a.replace(/[.;:,]+$/, '')))];
}

/** Statuses of a build under way (the API decides what may be done; this only chooses what to offer). */
export const IMAGE_IN_PROGRESS = new Set(['PENDING', 'CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING']);

/** Step statuses after which a step writes no more log. */
export const STEP_FINAL = new Set(['COMPLETED', 'FAILED', 'SKIPPED', 'CANCELLED']);

/** `camelCaseKey` as "Camel case key". */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  const fixed = words.replace(/\b(arn|ami|amis|id|ids|kms|sns|s3|os|iam|ecr|url|uri|uris|imds|http|ebs|ssm)\b/g, (w) => (w === 'amis' ? 'AMIs' : w === 'ids' ? 'IDs' : w === 'uris' ? 'URIs' : w.toUpperCase()));
  return fixed.charAt(0).toUpperCase() + fixed.slice(1);
}
