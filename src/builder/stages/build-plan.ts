/**
 * The parts of a build plan (image-record.ts BuildPlan) that container and machine builds share: components
 * resolved to concrete builds with their documents' hashes, a container parent resolved to an image build or a
 * registry reference, and the plan's content key. Compiling reads the store only; materializing a parent (a
 * registry pull, a managed base's first bootstrap) is execution and pins the parent's digest into the plan.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../artifacts/oci/image.js';
import { parseArn } from '../../domain/arn.js';
import { KilnError, validationError, type Issue } from '../../domain/errors.js';
import { parseVersionFilter } from '../../domain/semver.js';
import { resolveComponentRef } from '../../store/component-refs.js';
import { pickBuild } from '../../store/versioned.js';
import { readableVersions, type Caller } from '../../store/visibility.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { recipeOf, type BuildPlan, type ContainerImageRef } from './image-record.js';
import type { OutputSink } from '../../logs/line-assembler.js';

type Obj = Record<string, unknown>;

/** Finds the stored OCI image a parent reference names; registry pulls and managed bootstraps happen here. */
export interface ParentSource {
  /** A Kiln image build (own, shared or managed), already chosen. */
  fromImage(record: ResourceRecord, signal?: AbortSignal, log?: OutputSink): Promise<ContainerImageRef>;
  /** An OCI reference (`registry/repo:tag`, `repo@sha256:…`) pulled into the blob store; `resolved` pins the digest. */
  fromRegistry(reference: string, accountId: string, signal?: AbortSignal, log?: OutputSink): Promise<ContainerImageRef & { resolved: string }>;
}

/** Who a resolution is for: the account and region of a build (or of a caller), and a request id for logs. */
export type Requester = Pick<ResourceRecord, 'accountId' | 'region' | 'arn'>;

/** A build reads what its image's account may read, in the image's region. */
function contextOf(image: Requester): Caller {
  return { accountId: image.accountId, region: image.region };
}

/** The newest AVAILABLE build an image ARN (with `x` wildcards) designates among those the owner of `image` may read. */
export async function resolveImageArn(store: Store, image: Requester, text: string): Promise<ResourceRecord> {
  const arn = parseArn(text);
  const filter = arn?.version === undefined ? undefined : parseVersionFilter(arn.version);
  if (!arn || arn.resourceType !== 'image' || !filter) {
    throw new KilnError('InvalidArgument', `parentImage ${text} is not an image ARN with a version (…:image/<name>/<version or x.x.x>[/<build>])`);
  }
  const hidden = `parentImage ${text} names no AVAILABLE image visible to account ${image.accountId} in ${image.region}`;
  if (arn.region !== image.region) throw new KilnError('InvalidArgument', hidden);
  const builds = (await readableVersions(store, contextOf(image), { owner: arn.owner, type: 'image', name: arn.name })).filter(
    (r) => (r.data.state as { status?: string } | undefined)?.status === 'AVAILABLE',
  );
  const record = pickBuild(builds, filter, arn.build);
  if (!record) throw new KilnError('InvalidArgument', hidden);
  return record;
}

/**
 * A container build's parent as compiled: an image build (own, shared or managed; its record read at compile
 * time, so materializing it reads nothing again) or a registry reference, which only a pull can pin.
 */
export type ContainerParent = { kind: 'image'; record: ResourceRecord } | { kind: 'registry'; reference: string };

/** Compiles the recipe's parent of a container build from store reads; the digest is '' until materialized. */
export function compileContainerParent(store: Store, image: ResourceRecord): Promise<{ plan: BuildPlan['parent']; parent: ContainerParent }> {
  return compileContainerRef(store, image, String(recipeOf(image).parentImage ?? ''));
}

/**
 * Resolves a container parent as `who` names it, from store reads: a DOCKER image ARN (wildcards allowed) it may
 * read, or a registry reference, taken as written (only a pull can tell whether it exists). InvalidArgument
 * naming parentImage otherwise.
 */
export async function compileContainerRef(store: Store, who: Requester, requested: string): Promise<{ plan: BuildPlan['parent']; parent: ContainerParent }> {
  if (requested.startsWith('arn:')) {
    const record = await resolveImageArn(store, who, requested);
    if (record.data.type !== 'DOCKER') throw new KilnError('InvalidArgument', `parentImage ${requested} resolves to ${record.arn}, which is a machine image, not a container image`);
    const stored = record.data.containerImage as ContainerImageRef | undefined;
    const source = record.accountId === 'aws' ? 'managed' : 'image';
    return { plan: { requested, resolved: record.arn, manifestDigest: stored?.manifestDigest ?? '', source }, parent: { kind: 'image', record } };
  }
  return { plan: { requested, resolved: requested, manifestDigest: '', source: 'registry' }, parent: { kind: 'registry', reference: requested } };
}

/**
 * Makes the compiled parent's image present in the blob store (pulls a registry reference, bootstraps a managed
 * base the first time) and returns the plan with the parent pinned to what was stored.
 */
export async function materializeContainerParent(plan: BuildPlan, parent: ContainerParent, parents: ParentSource, accountId: string, signal?: AbortSignal, log?: OutputSink): Promise<{ plan: BuildPlan; image: ContainerImageRef }> {
  if (parent.kind === 'image') {
    const stored = await parents.fromImage(parent.record, signal, log);
    return { plan: { ...plan, parent: { ...plan.parent, manifestDigest: stored.manifestDigest } }, image: stored };
  }
  const pulled = await parents.fromRegistry(parent.reference, accountId, signal, log);
  return {
    plan: { ...plan, parent: { ...plan.parent, resolved: pulled.resolved, manifestDigest: pulled.manifestDigest } },
    image: { manifestDigest: pulled.manifestDigest, mediaType: pulled.mediaType, configDigest: pulled.configDigest },
  };
}

/** True once every reference of the plan is pinned to content. */
export function isPinned(plan: BuildPlan): boolean {
  return plan.parent.manifestDigest !== '';
}

/**
 * The plan's content key: the sha256 of its canonical JSON (keys sorted), so equal plans key equally whatever
 * the order their fields were written in. Only a pinned plan has one: a tag names different images over time.
 */
export function planKey(plan: BuildPlan): string {
  if (!isPinned(plan)) throw new KilnError('Internal', `the build plan's parent ${plan.parent.requested} is not pinned yet; it has no key`);
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}

/** The sha256 of a text, hex: how a plan names documents and templates. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A component of the plan with the document it runs. */
export interface PlannedComponent {
  entry: BuildPlan['components'][number];
  document: string;
}

/** AWS's parameter values are lists; AWSTOE takes one string, so a list is joined with commas. */
function parameterValues(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(raw)) return out;
  for (const p of raw as Obj[]) {
    if (typeof p.name === 'string') out[p.name] = Array.isArray(p.value) ? p.value.map(String).join(',') : String(p.value ?? '');
  }
  return out;
}

/** Resolves every component of the recipe in order; all problems are reported together, under their field. */
export async function compileComponents(store: Store, image: ResourceRecord): Promise<PlannedComponent[]> {
  const refs = (recipeOf(image).components ?? []) as Obj[];
  const issues: Issue[] = [];
  const out: PlannedComponent[] = [];
  for (const [i, ref] of refs.entries()) {
    const requested = String(ref.componentArn ?? '');
    const found = await resolveComponentRef(store, contextOf(image), requested);
    if (typeof found === 'string') {
      issues.push({ path: `components[${i}].componentArn`, message: `${requested} ${found}` });
      continue;
    }
    const document = String(found.data.data ?? '');
    out.push({
      entry: {
        requested,
        arn: found.arn,
        type: found.data.type === 'TEST' ? 'TEST' : 'BUILD',
        sha256: sha256Hex(document),
        parameters: parameterValues(ref.parameters),
      },
      document,
    });
  }
  if (issues.length > 0) throw validationError('The recipe', issues);
  return out;
}
