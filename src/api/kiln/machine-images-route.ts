/**
 * Kiln's machine-image routes (EC2's side of AMIs, not part of Image Builder's API): `GET /kiln/machine-images`
 * lists the machine images the caller may launch (its own and those shared with it), and
 * `GET /kiln/machine-images/export?image=…&format=qcow2|raw|vmdk|vhd` streams one as a disk file. SigV4-signed
 * like the API; a machine image the caller may not launch is reported as not found.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ResourceRecord, Store } from '../../store/store.js';
import { isDiskFormat, type DiskFormat } from '../../artifacts/disk/convert.js';
import { awsError, errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface MachineImageRouteDeps extends SignedRouteAuth {
  store: Store;
  /** The machine images an account may launch in a region. */
  list: (accountId: string, region: string) => Promise<ResourceRecord[]>;
  /** Writes `image` as `format` to a temporary file; `release` removes it. */
  exportDisk: (who: { accountId: string; region: string }, image: string, format: DiskFormat, signal: AbortSignal) => Promise<{ path: string; release: () => Promise<void> }>;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

export function registerMachineImageRoutes(app: FastifyInstance, deps: MachineImageRouteDeps): void {
  app.get('/kiln/machine-images', async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
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
      const who = await signedCaller(req, deps);
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
