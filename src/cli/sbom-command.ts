/**
 * `kiln images sbom IMAGE [--format spdx|cyclonedx]`: prints the SBOM of an image build (IMAGE is its ARN) as
 * JSON, through Kiln's signed `/kiln/images/sbom` route.
 */
import type { Command } from 'commander';
import { cliAction, kilnFetch, routeError, routeTarget, UsageError, withServerOptions, type ServerTargetOptions } from './kiln-client.js';

const FORMATS = ['spdx', 'cyclonedx'];

/** Adds `sbom` to the `kiln images` command group. */
export function registerImageSbomCommand(images: Command): void {
  withServerOptions(
    images
      .command('sbom <image>')
      .description('print the SBOM (SPDX 2.3 or CycloneDX 1.5 JSON) of an image build (its ARN)')
      .option('--format <format>', 'spdx or cyclonedx', 'spdx'),
  ).action(
    cliAction('kiln images sbom', async (image: string, opts: ServerTargetOptions & { format: string }) => {
      if (!FORMATS.includes(opts.format)) throw new UsageError(`--format must be spdx or cyclonedx, got ${opts.format}`);
      const response = await kilnFetch(routeTarget(opts), { method: 'GET', path: '/kiln/images/sbom', query: { image, format: opts.format } });
      const text = await response.text();
      if (response.status !== 200) {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // Not an AWS-shaped error body; routeError falls back to the status.
        }
        throw routeError(response.status, body, `the SBOM of ${image}`);
      }
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }),
  );
}
