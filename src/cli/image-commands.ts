/**
 * `kiln images ls` lists the machine images the caller may launch (its own and those shared with it), and
 * `kiln images export IMAGE --format qcow2|raw|vmdk|vhd -o FILE` writes one as a disk file: EC2's side of AMIs,
 * through Kiln's signed `/kiln/machine-images` routes. IMAGE is a machine image id (ami-…) or an AMI image ARN.
 * `kiln images import FILE --format …` uploads a disk of one's own (EC2's ImportImage) and prints the import task
 * id that ImportVmImage takes as `vmImportTaskId`; `kiln images imports` lists the tasks (EC2's
 * DescribeImportImageTasks).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { isDiskFormat } from '../artifacts/disk/convert.js';
import { cliAction, kilnFetch, kilnRequest, routeError, routeTarget, UsageError, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson, printTable } from './table.js';
import { registerImageSbomCommand } from './sbom-command.js';

/** Adds `kiln images` to the CLI. */
export function registerImageCommands(program: Command): void {
  const images = program.command('images').description('machine images (AMIs): list, export, import and verify; image SBOMs');
  registerImageSbomCommand(images);
  withServerOptions(images.command('ls').description('list the machine images you may launch').option('--json', 'print a JSON array')).action(
    cliAction('kiln images ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/machine-images' });
      if (status !== 200) throw routeError(status, body, 'listing machine images');
      const list = (body.images ?? []) as { imageId: string; name: string; ownerId: string; creationDate: string; sourceImageArn: string }[];
      if (opts.json) printJson(list);
      else
        printTable(
          [
            { header: 'IMAGE ID', value: (i) => i.imageId },
            { header: 'OWNER', value: (i) => i.ownerId },
            { header: 'CREATED', value: (i) => i.creationDate },
            { header: 'NAME', value: (i) => i.name },
          ],
          list,
          'no machine images',
        );
    }),
  );
  withServerOptions(
    images
      .command('export <image>')
      .description('write a machine image (ami-… or image ARN) as a disk file')
      .option('--format <format>', 'qcow2, raw, vmdk (streamOptimized) or vhd (fixed)', 'qcow2')
      .requiredOption('-o, --output <file>', 'where to write the disk')
      .option('--json', 'print {"image","format","path","bytes"} instead of the path'),
  ).action(
    cliAction('kiln images export', async (image: string, opts: ServerTargetOptions & { format: string; output: string; json?: boolean }) => {
      if (!isDiskFormat(opts.format)) throw new UsageError(`--format must be qcow2, raw, vmdk or vhd, got ${opts.format}`);
      const response = await kilnFetch(routeTarget(opts), { method: 'GET', path: '/kiln/machine-images/export', query: { image, format: opts.format } });
      if (response.status !== 200 || !response.body) {
        const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
        throw routeError(response.status, body, `exporting ${image}`);
      }
      const out = path.resolve(opts.output);
      const partial = path.join(path.dirname(out), `.${path.basename(out)}.partial-${process.pid}`);
      let bytes = 0;
      try {
        await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(partial));
        bytes = (await stat(partial)).size;
        await rename(partial, out);
      } finally {
        await rm(partial, { force: true });
      }
      if (opts.json) printJson({ image, format: opts.format, path: out, bytes });
      else process.stdout.write(`${out}\n`);
    }),
  );
  withServerOptions(
    images
      .command('import <file>')
      .description('upload a disk file (EC2 ImportImage); prints the import task id that ImportVmImage takes as vmImportTaskId')
      .requiredOption('--format <format>', 'the file\'s format: qcow2, raw, vmdk or vhd')
      .option('--json', 'print the import task as JSON instead of its id'),
  ).action(
    cliAction('kiln images import', async (file: string, opts: ServerTargetOptions & { format: string; json?: boolean }) => {
      if (!isDiskFormat(opts.format)) throw new UsageError(`--format must be qcow2, raw, vmdk or vhd, got ${opts.format}`);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) throw new UsageError(`FILE: ${file} is not a file`);
      const stream = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
      const response = await kilnFetch(routeTarget(opts), { method: 'PUT', path: '/kiln/images/import', query: { format: opts.format }, upload: { stream, length: st.size } });
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (response.status !== 200) throw routeError(response.status, body, `importing ${path.basename(file)}`);
      if (opts.json) printJson(body);
      else process.stdout.write(`${String(body.importTaskId)}\n`);
    }),
  );
  withServerOptions(images.command('imports').description('list your import tasks (EC2 DescribeImportImageTasks): status, format, guest found on the disk, images made').option('--json', 'print a JSON array')).action(
    cliAction('kiln images imports', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/images/imports' });
      if (status !== 200) throw routeError(status, body, 'listing import tasks');
      const list = (body.importTasks ?? []) as ImportTaskRow[];
      if (opts.json) printJson(list);
      else
        printTable(
          [
            { header: 'TASK ID', value: (t) => t.importTaskId },
            { header: 'STATUS', value: (t) => t.status },
            { header: 'FORMAT', value: (t) => t.format },
            { header: 'SIZE', value: (t) => String(t.diskSizeBytes) },
            { header: 'CREATED', value: (t) => t.creationDate },
            { header: 'GUEST', value: (t) => guestText(t.guest) },
            { header: 'OS', value: (t) => t.os?.prettyName ?? '-' },
            { header: 'IMAGES', value: (t) => (t.imageArns.length > 0 ? t.imageArns.join(',') : '-') },
          ],
          list,
          'no import tasks',
        );
    }),
  );
}

/** One task as `GET /kiln/images/imports` answers it (import-tasks.ts's importTaskView). */
interface ImportTaskRow {
  importTaskId: string;
  status: string;
  format: string;
  diskSizeBytes: number;
  creationDate: string;
  guest: { cloudInit: boolean; agent: boolean } | 'unknown';
  os?: { prettyName: string };
  imageArns: string[];
}

/** How a vm build can reach the disk's guest, in a word or two. */
function guestText(guest: ImportTaskRow['guest']): string {
  if (guest === 'unknown') return 'unknown';
  const ways = [...(guest.cloudInit ? ['cloud-init'] : []), ...(guest.agent ? ['qemu-ga'] : [])];
  return ways.length > 0 ? ways.join('+') : 'none';
}
