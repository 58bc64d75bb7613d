/**
 * Where container builds meet registries: parents pulled from a registry (Kiln's own or an external one) or
 * taken from a Kiln image, and built images tagged in Kiln's registry or pushed to external ones.
 */
import type { BlobStore } from '../../artifacts/blob-store.js';
import { KilnError, errorMessage, isKilnError } from '../../domain/errors.js';
import { formatImageReference, parseImageReference, type ImageReference, type RegistryClient } from '../../registry/client/registry-client.js';
import type { BuiltinRegistry } from '../../registry/server/builtin-registry.js';
import type { ResourceRecord } from '../../store/store.js';
import type { ParentSource } from './build-plan.js';
import type { ContainerDistributor } from '../container/container-build.js';
import { recipeOf, type ContainerImageRef } from './image-record.js';
import { ManagedBases } from '../bases/managed-bases.js';
import { signDistributedImage, type SignedPlace } from './image-signatures.js';
import type { SigningKeys } from '../../store/roles/signing-keys.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import { attachSbom } from './sbom-referrer.js';

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

  async fromImage(record: ResourceRecord, signal?: AbortSignal, log?: OutputSink): Promise<ContainerImageRef> {
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

/** One push an image asks for: a repository in a region with its tags, and the field that asked for it. */
export interface RegionTarget {
  region: string;
  repositoryName: string;
  tags: string[];
  /** The request field at fault when the push fails. */
  field: string;
  /** The field naming the region. */
  regionField: string;
}

/**
 * The pushes an image asks for, in order: the recipe's target repository in the build region (unless the image
 * only redistributes another, DistributeImage), and each distribution's containerDistributionConfiguration (its
 * tags and the version tag) in its region.
 */
export function regionTargets(image: ResourceRecord): RegionTarget[] {
  const versionTag = `${image.version}-${image.build}`;
  const targets: RegionTarget[] = [];
  const add = (region: string, repositoryName: unknown, tags: unknown, field: string, regionField: string) => {
    if (typeof repositoryName !== 'string' || repositoryName === '') return;
    const extra = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    const existing = targets.find((t) => t.region === region && t.repositoryName === repositoryName);
    const all = [versionTag, ...extra];
    if (existing) existing.tags = [...new Set([...existing.tags, ...all])];
    else targets.push({ region, repositoryName, tags: [...new Set(all)], field, regionField });
  };
  const recipe = recipeOf(image);
  if (image.data.distributedFrom === undefined) add(image.region, (recipe.targetRepository as Obj | undefined)?.repositoryName, [], 'containerRecipe.targetRepository.repositoryName', 'region');
  const distributions = ((image.data.distributionConfiguration as Obj | undefined)?.distributions ?? []) as Obj[];
  distributions.forEach((d, i) => {
    const c = d.containerDistributionConfiguration as Obj | undefined;
    if (c) add(String(d.region ?? image.region), (c.targetRepository as Obj | undefined)?.repositoryName, c.containerTags, `distributions[${i}].containerDistributionConfiguration.targetRepository`, `distributions[${i}].region`);
  });
  return targets;
}

/** The pushes an image asks for (regionTargets without the fields). */
export function distributionTargets(image: ResourceRecord): { region: string; repositoryName: string; tags: string[] }[] {
  return regionTargets(image).map(({ region, repositoryName, tags }) => ({ region, repositoryName, tags }));
}

/** Where the distributor pushes: Kiln's configured regions and the external registry of each, if any. */
export interface RegionRegistries {
  regions: readonly string[];
  /** Region → `host[:port]` of its external registry; regions not listed use Kiln's built-in registry. */
  registries: Readonly<Record<string, string>>;
}

/**
 * Pushes built images region by region: to the external registry a repository name starts with, else to the
 * region's configured registry, else by tagging in Kiln's built-in registry (one registry serves every region
 * that names none, as one ECR endpoint per region would). Every repository pushed to gets the image's sigstore
 * signatures beside it (image-signatures.ts), one per tag, by the image's account's key.
 */
export class RegistryDistributor implements ContainerDistributor {
  constructor(private readonly deps: RegistryGlueDeps & { regions: RegionRegistries; signingKeys: SigningKeys }) {}

  regions(image: ResourceRecord): string[] {
    return [...new Set(regionTargets(image).map((t) => t.region))];
  }

  async distributeRegion(image: ResourceRecord, built: ContainerImageRef, region: string, log: (text: string) => void, signal: AbortSignal): Promise<string[]> {
    const targets = regionTargets(image).filter((t) => t.region === region);
    const uris: string[] = [];
    for (const target of targets) {
      if (!this.deps.regions.regions.includes(region)) {
        throw new KilnError('InvalidArgument', `${target.regionField}: ${region} is not a region of this Kiln (${this.deps.regions.regions.join(', ')})`);
      }
      const registry = externalRegistryOf(target.repositoryName, this.deps.externalHosts) ?? this.regionRegistry(region, target.repositoryName);
      for (const tag of target.tags) {
        if (signal.aborted) throw new KilnError('Cancelled', 'distribution was cancelled');
        if (registry) {
          const ref: ImageReference = { registry: registry.registry, repository: registry.repository, tag };
          const uri = formatImageReference(ref);
          try {
            const pushed = await this.deps.client.push(this.deps.blobs, built.manifestDigest, ref, { signal });
            log(`pushed ${uri} (${pushed.bytesSent} bytes sent, ${pushed.blobsSkipped} blobs already there)\n`);
          } catch (err) {
            if (signal.aborted) throw err;
            throw new KilnError(isKilnError(err) ? err.kind : 'Internal', `${target.field}: push to ${uri} failed: ${errorMessage(err)}`, [], { cause: err });
          }
          uris.push(uri);
        } else {
          const uri = `${this.deps.registryHost()}/${target.repositoryName}:${tag}`;
          try {
            await this.deps.builtin.tag({ accountId: image.accountId, repository: target.repositoryName, tag, manifestDigest: built.manifestDigest, mediaType: built.mediaType });
          } catch (err) {
            throw new KilnError(isKilnError(err) ? err.kind : 'Internal', `${target.field}: tagging ${uri} failed: ${errorMessage(err)}`, [], { cause: err });
          }
          log(`tagged ${uri}\n`);
          uris.push(uri);
        }
      }
      const place: SignedPlace = registry ? { kind: 'external', ...registry } : { kind: 'builtin', host: this.deps.registryHost(), repository: target.repositoryName };
      try {
        await signDistributedImage({ ...this.deps }, image.accountId, built.manifestDigest, place, target.tags, log, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        throw new KilnError(isKilnError(err) ? err.kind : 'Internal', `${target.field}: signing ${place.repository} failed: ${errorMessage(err)}`, [], { cause: err });
      }
      if (!registry) await attachSbom(this.deps.builtin, image, target.repositoryName, built, log);
    }
    return uris;
  }

  private regionRegistry(region: string, repositoryName: string): { registry: string; repository: string } | undefined {
    const host = this.deps.regions.registries[region];
    return host === undefined ? undefined : { registry: host, repository: repositoryName };
  }
}
