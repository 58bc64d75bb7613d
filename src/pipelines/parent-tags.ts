/**
 * What a parent image's registry reference points at now, written as a build plan records it (build-plan.ts
 * via registry-glue.ts): Kiln's own registry is asked in-process, any other registry by reading its manifest.
 */
import { formatImageReference, parseImageReference, type RegistryClient } from '../registry/client/registry-client.js';
import type { BuiltinRegistry } from '../registry/server/builtin-registry.js';
import type { ParentTagResolver } from './dependency-resolver.js';

export function parentTagResolver(deps: { client: RegistryClient; builtin: BuiltinRegistry; registryHost: () => string }): ParentTagResolver {
  return async (reference, accountId, signal) => {
    const ref = parseImageReference(reference);
    const host = deps.registryHost();
    if (ref.registry === host) {
      const found = await deps.builtin.resolve({ accountId, repository: ref.repository, reference: ref.digest ?? ref.tag ?? 'latest' });
      return `${host}/${ref.repository}@${found.manifestDigest}`;
    }
    const digest = await deps.client.resolve(ref, { signal });
    return formatImageReference({ registry: ref.registry, repository: ref.repository, digest });
  };
}
