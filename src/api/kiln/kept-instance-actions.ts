/**
 * What can be done to an instance this node holds: read its serial console, run a command in it, release it.
 * The public `/kiln/instances` routes call these for their own node's instances and the internal routes for
 * instances an API node forwards here, so both answer alike.
 */
import { open } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeptInstanceInfo, KeptInstances } from '../../builder/stages/kept-instances.js';
import { awsError, errorBody, type AwsError } from '../aws/errors.js';

/** The most console text one read returns. */
const CONSOLE_CHUNK = 256 * 1024;

/** The longest a command may run in an instance. */
export const EXEC_TIMEOUT_MS = 600_000;

export function sendAwsError(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

/** The request body as a JSON object; InvalidRequestException otherwise. */
export function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  try {
    const parsed = JSON.parse(raw || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw awsError('InvalidRequestException', 'The request body must be a JSON object.');
}

/** The `argv` of an exec request's body; InvalidParameterException unless it is a non-empty list of strings. */
export function execArgv(body: Record<string, unknown>): string[] {
  const argv = body.argv;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) throw awsError('InvalidParameterException', 'argv: must be a non-empty list of strings.');
  return argv as string[];
}

/** Up to CONSOLE_CHUNK bytes of the instance's serial console from `offset`, and the offset after them. */
export async function readConsole(info: KeptInstanceInfo, offsetText: string | undefined): Promise<{ text: string; offset: number }> {
  if (!info.consoleLog) throw awsError('InvalidRequestException', `Instance ${info.instanceId} has no serial console.`);
  const offset = Math.max(0, Number(offsetText ?? 0) || 0);
  const file = await open(info.consoleLog, 'r').catch(() => undefined);
  if (!file) return { text: '', offset };
  try {
    const buffer = Buffer.alloc(CONSOLE_CHUNK);
    const { bytesRead } = await file.read(buffer, 0, CONSOLE_CHUNK, offset);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), offset: offset + bytesRead };
  } finally {
    await file.close();
  }
}

/** Runs `argv` in a kept instance and answers its result; the command is killed when `signal` aborts. */
export async function execInKept(kept: KeptInstances, instanceId: string, argv: string[], signal: AbortSignal): Promise<Record<string, unknown>> {
  const instance = kept.instance(instanceId);
  if (!instance) throw awsError('ResourceNotFoundException', `Instance ${instanceId} is gone.`);
  const result = await instance.exec(argv, { timeoutMs: EXEC_TIMEOUT_MS, signal });
  return { exitCode: result.exitCode, signal: result.signal, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut, ...(result.spawnError ? { spawnError: result.spawnError } : {}) };
}

/** A signal that aborts when the client goes away before the reply is finished. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response's close, not the request's: a request closes as soon as its body has been read.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the client went away'));
  });
  return controller.signal;
}
