/**
 * Access keys as the authenticators see them: only active keys are found, and each request a key signs is
 * noted as the key's last use, written to the store at most once a minute per key.
 */
import type { Store } from '../store/store.js';

/** How often, at most, one process writes a key's last use: a busy API must not write on every request. */
export const KEY_USE_INTERVAL_MS = 60_000;

/** A secret found for authentication, with the hook to call once the request it signed is verified. */
export interface AuthenticatingKey {
  accountId: string;
  secretAccessKey: string;
  /** Marks the key as used now; call it only after the signature or password checked out. Never throws. */
  verified(): void;
}

/**
 * Remembers when this process last wrote each key's use, so the store sees one write per key per interval
 * however many requests the key signs (the last-used time is then at most that interval stale).
 */
export class KeyUseRecorder {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly store: Pick<Store, 'recordAccessKeyUse'>,
    private readonly options: { now?: () => Date; intervalMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  /** Notes that `accessKeyId` was used now; writes it unless this process wrote it less than the interval ago. */
  used(accessKeyId: string): void {
    const now = (this.options.now ?? (() => new Date()))();
    const last = this.written.get(accessKeyId);
    if (last !== undefined && now.getTime() - last < (this.options.intervalMs ?? KEY_USE_INTERVAL_MS)) return;
    this.written.set(accessKeyId, now.getTime());
    // Last use is bookkeeping: a failed write must not fail the request it describes.
    this.store.recordAccessKeyUse(accessKeyId, now.toISOString()).catch((err: unknown) => {
      this.written.delete(accessKeyId);
      this.options.onError?.(err);
    });
  }
}

/**
 * The key lookup for every authenticator (SigV4 for the API and /kiln/ routes, Basic for the registry): reads
 * the store on each request, so a key disabled or deleted by `kiln accounts keys` is refused at once.
 */
export function authenticatingKeys(store: Pick<Store, 'getAccessKeySecret'>, recorder: KeyUseRecorder): (accessKeyId: string) => Promise<AuthenticatingKey | undefined> {
  return async (accessKeyId) => {
    const found = await store.getAccessKeySecret(accessKeyId);
    return found && { ...found, verified: () => recorder.used(accessKeyId) };
  };
}
