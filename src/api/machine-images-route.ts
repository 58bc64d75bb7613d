/**
 * Kiln's machine-image routes (EC2's side of AMIs, not part of Image Builder's API): `GET /kiln/machine-images`
 * lists the machine images the caller may launch (its own and those shared with it), and
 * `GET /kiln/machine-images/export?image=…&format=qcow2|raw|vmdk|vhd` streams one as a disk file. SigV4-signed
 * like the API; a machine image the caller may not launch is reported as not found.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ResourceRecord, Store } from '../store/store.js';
import { isDiskFormat, type DiskFormat } from '../artifacts/disk/convert.js';
import { awsError, errorBody, toAwsError, type AwsError } from './errors.js';
import { verifySigV4, type AccessKeySecret } from './sigv4.js';

export interface MachineImageRouteDeps {
  store: Store;
  lookupKey: (accessKeyId: string) => Promise<AccessKeySecret | undefined>;
  regions: ReadonlySet<string>;
  /** The machine images an account may launch in a region. */
  list: (accountId: string, region: string) => Promise<ResourceRecord[]>;
  /** Writes `image` as `format` to a temporary file; `release` removes it. */
  exportDisk: (who: { accountId: string; region: string }, image: string, format: DiskFormat, signal: AbortSignal) => Promise<{ path: string; release: () => Promise<void> }>;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

async function caller(req: FastifyRequest, deps: MachineImageRouteDeps): Promise<{ accountId: string; region: string }> {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  return verifySigV4(
    { method: req.method, rawPath: q < 0 ? url : url.slice(0, q), query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), headers: req.headers, body },
    { lookup: deps.lookupKey, regions: deps.regions },
  );
}

export function registerMachineImageRoutes(app: FastifyInstance, deps: MachineImageRouteDeps): void {
  app.get('/kiln/machine-images', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const images = (await deps.list(who.accountId, who.region)).map((r) => {
        const d = r.data as Record<string, unknown>;
        return { imageId: d.amiId, name: d.name, description: d.description, ownerId: r.accountId, creationDate: d.creationDate, sourceImageArn: d.sourceImageArn, tags: d.tags, launchPermission: d.launchPermission, diskSizeBytes: (d.disk as { sizeBytes?: number } | undefined)?.sizeBytes };
      });
      return reply.type('application/json').send({ images });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.get<{ Querystring: { image?: string; format?: string } }>('/kiln/machine-images/export', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const { image, format = 'qcow2' } = req.query;
      if (!image) throw awsError('InvalidParameterException', 'image: give a machine image id (ami-…) or an image ARN.');
      if (!isDiskFormat(format)) throw awsError('InvalidParameterException', `format: must be qcow2, raw, vmdk or vhd, got ${format}.`);
      const controller = new AbortController();
      req.raw.once('close', () => {
        if (!reply.raw.writableEnded) controller.abort(new Error('the client went away'));
      });
      const file = await deps.exportDisk(who, image, format, controller.signal);
      const stream = createReadStream(file.path);
      const release = () => void file.release();
      stream.once('close', release);
      return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="disk.${format}"`).send(stream);
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
