/**
 * `PUT /kiln/images/import?format=qcow2|raw|vmdk|vhd`: a disk file uploaded as the request body, streamed to the
 * engine (never buffered), answered with its import task (`import-ami-…`), which ImportVmImage then takes.
 * Signed like the other Kiln routes, with `x-amz-content-sha256: UNSIGNED-PAYLOAD` since the body streams.
 * `GET /kiln/images/imports` lists the caller's tasks in its region (`{importTasks: [...]}`), Kiln's
 * DescribeImportImageTasks.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isDiskFormat, type DiskFormat } from '../../artifacts/disk/convert.js';
import { awsError, errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface ImageImportRouteDeps extends SignedRouteAuth {
  /** Receives, checks, converts and stores the disk; answers the task as stored. */
  importDisk: (who: { accountId: string; region: string }, body: Readable, format: DiskFormat, signal: AbortSignal) => Promise<Record<string, unknown>>;
  /** The caller's import tasks in its region, newest first. */
  listImports: (who: { accountId: string; region: string }) => Promise<Record<string, unknown>[]>;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

export function registerImageImportRoutes(app: FastifyInstance, deps: ImageImportRouteDeps): void {
  app.get('/kiln/images/imports', async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      return reply.type('application/json').send({ importTasks: await deps.listImports(who) });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  // In its own context: the server's parser buffers bodies up to 1 MiB, a disk streams through untouched.
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    child.put<{ Querystring: { format?: string } }>('/kiln/images/import', async (req, reply) => {
      const body = req.body as Readable | undefined;
      try {
        const who = await signedCaller(req, deps, { unsignedPayload: true });
        const { format } = req.query;
        if (!format || !isDiskFormat(format)) throw awsError('InvalidParameterValueException', `format: must be qcow2, raw, vmdk or vhd, got ${format ?? 'nothing'}.`);
        if (!body) throw awsError('InvalidParameterValueException', 'file: the request has no body; send the disk file.');
        const controller = new AbortController();
        // The response's close, not the request's: the request closes as soon as its body has been read.
        reply.raw.once('close', () => {
          if (!reply.raw.writableEnded) controller.abort(new Error('the client went away'));
        });
        const task = await deps.importDisk(who, body, format, controller.signal);
        return reply.type('application/json').send(task);
      } catch (err) {
        // The rest of a refused upload is read and dropped, so the client sees the answer rather than a reset.
        body?.resume();
        return send(reply, toAwsError(err));
      }
    });
  });
}
