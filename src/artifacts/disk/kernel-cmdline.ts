/**
 * The one kernel command line of a Kiln disk. systemd-boot (UEFI) and GRUB (BIOS) both get it from here, so
 * the two boot paths cannot drift apart.
 */
import { KilnError } from '../../domain/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// GRUB backslash-escapes quotes and backslashes when it hands arguments to the kernel, systemd-boot does not;
// control characters would break either loader's config line. Refusing them keeps both loaders identical.
const UNPORTABLE = /['"\\\p{Cc}]/u;

/**
 * `root=PARTUUID=<rootPartUuid> rw console=ttyS0 <extraKernelArgs>`, with whitespace in the extra arguments
 * collapsed. Throws InvalidArgument naming `rootPartUuid` (not a UUID) or `extraKernelArgs` (quotes,
 * backslashes or control characters, which the two loaders would pass differently).
 */
export function kernelCommandLine(rootPartUuid: string, extraKernelArgs?: string): string {
  if (!UUID.test(rootPartUuid)) {
    throw new KilnError('InvalidArgument', `rootPartUuid: ${JSON.stringify(rootPartUuid)} is not a UUID`, [{ path: 'rootPartUuid', message: 'not a UUID' }]);
  }
  const extra = (extraKernelArgs ?? '').split(/[ \t]+/).filter(Boolean);
  const bad = extra.find((arg) => UNPORTABLE.test(arg));
  if (bad !== undefined) {
    const message = `${JSON.stringify(bad)} holds a quote, backslash or control character, which GRUB and systemd-boot pass differently`;
    throw new KilnError('InvalidArgument', `extraKernelArgs: ${message}`, [{ path: 'extraKernelArgs', message }]);
  }
  return [`root=PARTUUID=${rootPartUuid.toLowerCase()}`, 'rw', 'console=ttyS0', ...extra].join(' ');
}
