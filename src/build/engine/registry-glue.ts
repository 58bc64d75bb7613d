/**
 * Where container builds meet registries: parents pulled from a registry (Kiln's own or an external one) or
 * taken from a Kiln image, and built images tagged in Kiln's registry or pushed to external ones.
 */
import type { BlobStore } from '../../artifacts/blob-store.js';
import { KilnError } from '../../domain/errors.js';
import { formatImageReference, parseImageReference, type ImageReference, type RegistryClient } from '../../registry/client/registry-client.js';
import type { BuiltinRegistry } from '../../registry/server/builtin-registry.js';
import type { ResourceRecord } from '../../store/store.js';
import type { ParentSource } from './build-plan.js';
import type { ContainerDistributor } from './container-build.js';
import { recipeOf, type ContainerImageRef } from './image-record.js';
import { ManagedBases } from './managed-bases.js';

type Obj = Record<string, unknown>;

export interface RegistryGlueDeps {
  blobs: BlobStore;
  client: RegistryClient;
  builtin: BuiltinRegistry;
  managed: ManagedBases;
  /** `host:port` of Kiln's own registry as clients reach it (known once the server listens). */
  registryHost: () => string;
  /** Hosts of the external registries in Kiln's configuration. */
  externalHosts: readonly string[];
}

async function configDigestOf(blobs: BlobStore, manifestDigest: string): Promise<string> {
  const manifest = JSON.parse((await blobs.get(manifestDigest)).toString('utf8')) as { config?: { digest?: string } };
  if (!manifest.config?.digest) throw new KilnError('InvalidArgument', `${manifestDigest} is not an image manifest (an index or a list of images cannot be a parent)`);
  return manifest.config.digest;
}

/** Parents from Kiln images (managed bases bootstrapped on first use) and from registries. */
export class RegistryParents implements ParentSource {
  constructor(private readonly deps: RegistryGlueDeps) {}

  async fromImage(record: ResourceRecord, signal?: AbortSignal, log?: (text: string) => void): Promise<ContainerImageRef> {
    if (ManagedBases.isManaged(record)) return this.deps.managed.image(record, signal, log);
    const stored = record.data.containerImage as ContainerImageRef | undefined;
    if (!stored || !(await this.deps.blobs.has(stored.manifestDigest))) {
      throw new KilnError('InvalidArgument', `parentImage ${record.arn} has no stored container image (it was not built by this Kiln, or its blobs were removed)`);
    }
    return stored;
  }

  async fromRegistry(reference: string, accountId: string, signal?: AbortSignal, log?: (text: string) => void): Promise<ContainerImageRef & { resolved: string }> {
    const ref = parseImageReference(reference);
    const host = this.deps.registryHost();
    if (ref.registry === host) {
      const found = await this.deps.builtin.resolve({ accountId, repository: ref.repository, reference: ref.digest ?? ref.tag ?? 'latest' });
      return { ...found, configDigest: await configDigestOf(this.deps.blobs, found.manifestDigest), resolved: `${host}/${ref.repository}@${found.manifestDigest}` };
    }
    log?.(`pulling ${formatImageReference(ref)}\n`);
    const pulled = await this.deps.client.pull(ref, this.deps.blobs, signal ? { signal } : {});
    log?.(`pulled ${pulled.manifestDigest} (${pulled.layers.length} layers)\n`);
    return {
      manifestDigest: pulled.manifestDigest,
      mediaType: pulled.mediaType,
      configDigest: pulled.configDigest,
      resolved: formatImageReference({ registry: ref.registry, repository: ref.repository, digest: pulled.manifestDigest }),
    };
  }
}

/**
 * The external registry a repository name starts with, if any: a host configured in Kiln's `registries`, or
 * one with a port or `localhost`. Other names with dots stay repository names of Kiln's registry, since ECR
 * repository names may contain dots (`team.app/web`).
 */
export function externalRegistryOf(repositoryName: string, configuredHosts: readonly string[]): { registry: string; repository: string } | undefined {
  const slash = repositoryName.indexOf('/');
  if (slash < 0) return undefined;
  const first = repositoryName.slice(0, slash);
  if (!(configuredHosts.includes(first) || first.includes(':') || first === 'localhost')) return undefined;
  return { registry: first, repository: repositoryName.slice(slash + 1) };
}

interface Target {
  region: string;
  repositoryName: string;
  tags: string[];
}

/** The pushes an image asks for: the recipe's target repository, and each region's container distribution. */
export function distributionTargets(image: ResourceRecord): Target[] {
  const versionTag = `${image.version}-${image.build}`;
  const targets: Target[] = [];
  const add = (region: string, repositoryName: unknown, tags: unknown) => {
    if (typeof repositoryName !== 'string' || repositoryName === '') return;
    const extra = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    const existing = targets.find((t) => t.region === region && t.repositoryName === repositoryName);
    const all = [versionTag, ...extra];
    if (existing) existing.tags = [...new Set([...existing.tags, ...all])];
    else targets.push({ region, repositoryName, tags: [...new Set(all)] });
  };
  const recipe = recipeOf(image);
  add(image.region, (recipe.targetRepository as Obj | undefined)?.repositoryName, []);
  const distributions = ((image.data.distributionConfiguration as Obj | undefined)?.distributions ?? []) as Obj[];
  for (const d of distributions) {
    const c = d.containerDistributionConfiguration as Obj | undefined;
    if (c) add(String(d.region ?? image.region), (c.targetRepository as Obj | undefined)?.repositoryName, c.containerTags);
  }
  return targets;
}

/** Tags built images in Kiln's registry and pushes them to external registries. */
export class RegistryDistributor implements ContainerDistributor {
  constructor(private readonly deps: RegistryGlueDeps) {}

  async distribute(image: ResourceRecord, built: ContainerImageRef, log: (text: string) => void, signal: AbortSignal): Promise<{ region: string; imageUris: string[] }[]> {
    const byRegion = new Map<string, string[]>();
    for (const target of distributionTargets(image)) {
      const uris = byRegion.get(target.region) ?? [];
      byRegion.set(target.region, uris);
      const external = externalRegistryOf(target.repositoryName, this.deps.externalHosts);
      for (const tag of target.tags) {
        if (signal.aborted) throw new KilnError('Cancelled', 'distribution was cancelled');
        if (external) {
          const ref: ImageReference = { registry: external.registry, repository: external.repository, tag };
          const pushed = await this.deps.client.push(this.deps.blobs, built.manifestDigest, ref, { signal });
          log(`pushed ${formatImageReference(ref)} (${pushed.bytesSent} bytes sent, ${pushed.blobsSkipped} blobs already there)\n`);
          uris.push(formatImageReference(ref));
        } else {
          await this.deps.builtin.tag({ accountId: image.accountId, repository: target.repositoryName, tag, manifestDigest: built.manifestDigest, mediaType: built.mediaType });
          const uri = `${this.deps.registryHost()}/${target.repositoryName}:${tag}`;
          log(`tagged ${uri}\n`);
          uris.push(uri);
        }
      }
    }
    return [...byRegion].map(([region, imageUris]) => ({ region, imageUris }));
  }
}
