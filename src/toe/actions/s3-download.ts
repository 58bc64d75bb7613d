import type { S3Client } from '@aws-sdk/client-s3';
import {
  checkAccountId,
  createS3Client,
  describeS3Error,
  parseS3Uri,
  s3SettingsFromEnv,
  s3Uri,
  type S3Location,
  type S3Settings,
} from './s3-config.js';
import { errorChain, instancePath, namesFolder, pathsFor, writeStreamToInstance } from './transfer.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';

interface S3DownloadItem {
  source: string;
  destination: string;
  expectedBucketOwner?: string;
  overwrite: boolean;
}

function checkSource(value: unknown): string | undefined {
  const location = parseS3Uri(String(value));
  if (location === undefined) return `must be an s3://bucket/key URI, got ${JSON.stringify(value)}`;
  const star = location.key.indexOf('*');
  if (star >= 0 && star !== location.key.length - 1) {
    return 'a wildcard is only allowed at the end, as in s3://bucket/prefix/*';
  }
  if (location.key === '') return 'needs an object key, or /* for every object in the bucket';
  if (location.key.endsWith('/')) return 'ends with /; to download every object under a prefix, end it with /*';
  return undefined;
}

const fields: Record<string, FieldSpec> = {
  source: { type: 'string', required: true, check: checkSource },
  destination: { type: 'string', required: true, check: (v) => (String(v).trim() === '' ? 'must not be empty' : undefined) },
  expectedBucketOwner: { type: 'string', check: checkAccountId },
  overwrite: { type: 'boolean', default: true },
};

interface Job {
  client: S3Client;
  context: ActionContext;
  item: S3DownloadItem;
  where: string;
}

function bodyChunks(body: unknown): AsyncIterable<Uint8Array> {
  if (body !== null && typeof body === 'object' && Symbol.asyncIterator in body) return body as AsyncIterable<Uint8Array>;
  throw new Error('the SDK returned a body that is not a Node stream');
}

/** Downloads one object into `target`, refusing to replace a file when overwrite is false. */
async function fetchObject(job: Job, location: S3Location, target: string): Promise<void> {
  const { client, context, item, where } = job;
  const existing = await context.instance.fs.stat(target);
  if (existing?.type === 'directory') {
    throw new ActionFailure(`${where}: cannot download ${s3Uri(location)} to ${target}: a folder is in the way`);
  }
  if (existing !== null && !item.overwrite) {
    throw new ActionFailure(
      `${where}: ${target} already exists and "overwrite" is false for this destination; ${s3Uri(location)} not downloaded`,
    );
  }
  context.log.info(`Downloading ${s3Uri(location)} to ${target}`);
  try {
    const response = await client.send(
      new (await import('@aws-sdk/client-s3')).GetObjectCommand({
        Bucket: location.bucket,
        Key: location.key,
        ...(item.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: item.expectedBucketOwner }),
      }),
      { abortSignal: context.signal },
    );
    const bytes = await writeStreamToInstance(context.instance, target, bodyChunks(response.Body));
    context.log.debug(`Downloaded ${bytes} bytes from ${s3Uri(location)}`);
  } catch (err) {
    if (err instanceof ActionFailure || context.signal.aborted) throw err;
    throw new ActionFailure(`${where}: download of ${s3Uri(location)} failed: ${describeS3Error(err)}`);
  }
}

/** AWSTOE does not create folders for S3Download; a missing one is a failure, as on AWS. */
async function requireFolder(job: Job, folder: string): Promise<void> {
  const stat = await job.context.instance.fs.stat(folder);
  if (stat?.type !== 'directory') {
    throw new ActionFailure(
      `${job.where}: folder ${folder} does not exist; S3Download does not create it (add a CreateFolder step first)`,
    );
  }
}

async function downloadSingle(job: Job, location: S3Location): Promise<void> {
  const { context, item } = job;
  const paths = pathsFor(context.instance);
  let target = instancePath(context, item.destination);
  // A destination that is (or is written as) a folder receives the object under its own name.
  const asFolder = namesFolder(context.instance, item.destination) || (await context.instance.fs.stat(target))?.type === 'directory';
  if (asFolder) {
    await requireFolder(job, target);
    target = paths.join(target, location.key.slice(location.key.lastIndexOf('/') + 1));
  } else {
    await requireFolder(job, paths.dirname(target));
  }
  await fetchObject(job, location, target);
}

async function listKeys(job: Job, location: S3Location, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await job.client.send(
        new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({
          Bucket: location.bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
          ...(job.item.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: job.item.expectedBucketOwner }),
        }),
        { abortSignal: job.context.signal },
      );
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (err) {
    if (job.context.signal.aborted) throw err;
    throw new ActionFailure(`${job.where}: listing ${job.item.source} failed: ${describeS3Error(err)}`);
  }
  return keys;
}

async function downloadPrefix(job: Job, location: S3Location): Promise<void> {
  const { context, item, where } = job;
  const paths = pathsFor(context.instance);
  const prefix = location.key.slice(0, -1);
  // Paths below the destination start after the prefix's last '/', so s3://b/dir/pre* keeps "pre..." names.
  const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const folder = instancePath(context, item.destination);
  await requireFolder(job, folder);
  const keys = await listKeys(job, location, prefix);
  if (keys.length === 0) throw new ActionFailure(`${where}: no objects match ${item.source}`);
  for (const key of keys) {
    const segments = key.slice(base.length).split('/').filter((s) => s !== '');
    if (segments.length === 0) continue;
    // An object key is free text; one with .. segments must not write outside the destination folder.
    if (segments.some((s) => s === '.' || s === '..')) {
      throw new ActionFailure(`${where}: refusing object key ${JSON.stringify(key)}: it would land outside ${folder}`);
    }
    const target = paths.join(folder, ...segments);
    // Zero-byte "folder" markers from the console become folders, not files.
    const marker = key.endsWith('/');
    const subfolder = marker ? target : paths.dirname(target);
    try {
      await context.instance.fs.mkdir(subfolder, { recursive: true });
    } catch (err) {
      throw new ActionFailure(`${where}: cannot create folder ${subfolder} for s3://${location.bucket}/${key}: ${errorChain(err)}`);
    }
    if (!marker) await fetchObject(job, { bucket: location.bucket, key }, target);
  }
}

/** Builds S3Download with the S3 endpoint and credentials that `settings` returns at run time. */
export function createS3Download(settings: () => S3Settings): ActionModule {
  return {
    name: 'S3Download',
    platforms: ['linux', 'windows', 'macos'],
    inputShape: 'list',
    fields,
    async run(inputs, context) {
      const items = inputs as S3DownloadItem[];
      const client = await createS3Client(settings());
      try {
        for (const [index, item] of items.entries()) {
          const location = parseS3Uri(item.source);
          const job: Job = { client, context, item, where: `inputs[${index}]` };
          if (location === undefined) throw new ActionFailure(`${job.where}.source: ${checkSource(item.source)}`);
          if (location.key.endsWith('*')) await downloadPrefix(job, location);
          else await downloadSingle(job, location);
        }
      } finally {
        client.destroy();
      }
      return { outputs: {} };
    },
  };
}

/** S3Download configured from the environment (KILN_S3_*, AWS_*). */
export const s3Download: ActionModule = createS3Download(() => s3SettingsFromEnv());
