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
import { instancePath, pathsFor, wildcardRegExp } from './transfer.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';

interface S3UploadItem {
  source: string;
  destination: string;
  recurse: boolean;
  expectedBucketOwner?: string;
}

function checkSource(value: unknown): string | undefined {
  const source = String(value);
  if (source.trim() === '') return 'must not be empty';
  const lastSeparator = Math.max(source.lastIndexOf('/'), source.lastIndexOf('\\'));
  if (source.slice(0, lastSeparator + 1).includes('*')) {
    return 'a wildcard is only allowed in the last path component, as in /path/to/folder/*';
  }
  return undefined;
}

function checkDestination(value: unknown): string | undefined {
  const location = parseS3Uri(String(value));
  if (location === undefined) return `must be an s3://bucket/key or s3://bucket/prefix/ URI, got ${JSON.stringify(value)}`;
  if (location.key.includes('*')) return 'an S3 destination cannot contain a wildcard';
  return undefined;
}

const fields: Record<string, FieldSpec> = {
  source: { type: 'string', required: true, check: checkSource },
  destination: { type: 'string', required: true, check: checkDestination },
  recurse: { type: 'boolean', default: false },
  expectedBucketOwner: { type: 'string', check: checkAccountId },
};

/** A local file and the object key it is uploaded to. */
interface Upload {
  path: string;
  key: string;
}

interface Job {
  client: S3Client;
  context: ActionContext;
  item: S3UploadItem;
  where: string;
}

/** A destination key used as a prefix: several files go below it, so it must end with '/' (or be the bucket root). */
const asPrefix = (key: string): string => (key === '' || key.endsWith('/') ? key : `${key}/`);

/** What a path is once symlinks are followed; null when it does not exist. */
async function kindOf(context: ActionContext, path: string): Promise<'file' | 'directory' | 'symlinkedDirectory' | 'other' | null> {
  const fs = context.instance.fs;
  const link = await fs.lstat(path);
  if (link === null) return null;
  if (link.type !== 'symlink') return link.type === 'file' || link.type === 'directory' ? link.type : 'other';
  const target = await fs.stat(path);
  if (target === null) return null;
  // Following links to folders could loop forever, so those are reported and skipped.
  return target.type === 'file' ? 'file' : target.type === 'directory' ? 'symlinkedDirectory' : 'other';
}

/** Every file below `folder`, with keys under `prefix` using '/' whatever the platform. */
async function walk(job: Job, folder: string, prefix: string, out: Upload[]): Promise<void> {
  const { context } = job;
  const paths = pathsFor(context.instance);
  const names = (await context.instance.fs.readdir(folder)).sort();
  for (const name of names) {
    const path = paths.join(folder, name);
    const kind = await kindOf(context, path);
    if (kind === 'file') out.push({ path, key: `${prefix}${name}` });
    else if (kind === 'directory') await walk(job, path, `${prefix}${name}/`, out);
    else context.log.debug(`${job.where}: skipping ${path} (${kind ?? 'vanished'})`);
  }
}

async function plan(job: Job, destination: S3Location): Promise<Upload[]> {
  const { context, item, where } = job;
  const paths = pathsFor(context.instance);
  const source = instancePath(context, item.source);
  const name = paths.basename(source);
  const uploads: Upload[] = [];

  if (name.includes('*')) {
    const folder = paths.dirname(source);
    if ((await context.instance.fs.stat(folder))?.type !== 'directory') {
      throw new ActionFailure(`${where}: folder ${folder} of source ${item.source} does not exist`);
    }
    const pattern = wildcardRegExp(name);
    const prefix = asPrefix(destination.key);
    const matches = (await context.instance.fs.readdir(folder)).filter((n) => pattern.test(n)).sort();
    if (matches.length === 0) throw new ActionFailure(`${where}: no files match ${item.source}`);
    for (const match of matches) {
      const path = paths.join(folder, match);
      const kind = await kindOf(context, path);
      if (kind === 'file') uploads.push({ path, key: `${prefix}${match}` });
      // Without recurse AWSTOE copies only the files a wildcard matches, not sub-folders.
      else if (kind === 'directory' && item.recurse) await walk(job, path, `${prefix}${match}/`, uploads);
      else context.log.debug(`${where}: skipping ${path} (${kind === 'directory' ? 'folder; recurse is false' : kind})`);
    }
    return uploads;
  }

  // A source named explicitly is followed even when it is a symlink; only links met while walking are skipped.
  const stat = await context.instance.fs.stat(source);
  const kind = stat === null ? null : stat.type;
  if (kind === 'file') {
    const key = destination.key === '' || destination.key.endsWith('/') ? `${destination.key}${name}` : destination.key;
    return [{ path: source, key }];
  }
  if (kind === 'directory') {
    if (!item.recurse) {
      throw new ActionFailure(`${where}: source ${source} is a folder; set recurse: true to upload it (or use ${item.source}/*)`);
    }
    // Like `aws s3 cp --recursive`: the folder's contents go below the prefix, not the folder itself.
    await walk(job, source, asPrefix(destination.key), uploads);
    return uploads;
  }
  throw new ActionFailure(`${where}: source ${source} ${kind === null ? 'does not exist' : 'is not a file or folder'}`);
}

async function upload(job: Job, destination: S3Location, file: Upload): Promise<void> {
  const { client, context, item, where } = job;
  const target = s3Uri({ bucket: destination.bucket, key: file.key });
  context.log.info(`Uploading ${file.path} to ${target}`);
  try {
    const body = await context.instance.fs.readFile(file.path);
    await client.send(
      new (await import('@aws-sdk/client-s3')).PutObjectCommand({
        Bucket: destination.bucket,
        Key: file.key,
        Body: body,
        ...(item.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: item.expectedBucketOwner }),
      }),
      { abortSignal: context.signal },
    );
  } catch (err) {
    if (context.signal.aborted) throw err;
    throw new ActionFailure(`${where}: upload of ${file.path} to ${target} failed: ${describeS3Error(err)}`);
  }
}

/** Builds S3Upload with the S3 endpoint and credentials that `settings` returns at run time. */
export function createS3Upload(settings: () => S3Settings): ActionModule {
  return {
    name: 'S3Upload',
    platforms: ['linux', 'windows', 'macos'],
    inputShape: 'list',
    fields,
    async run(inputs, context) {
      const items = inputs as S3UploadItem[];
      const client = await createS3Client(settings());
      try {
        for (const [index, item] of items.entries()) {
          const job: Job = { client, context, item, where: `inputs[${index}]` };
          const destination = parseS3Uri(item.destination);
          if (destination === undefined) {
            throw new ActionFailure(`${job.where}.destination: ${checkDestination(item.destination)}`);
          }
          const files = await plan(job, destination);
          if (files.length === 0) context.log.info(`${job.where}: nothing to upload from ${item.source}`);
          for (const file of files) await upload(job, destination, file);
        }
      } finally {
        client.destroy();
      }
      return { outputs: {} };
    },
  };
}

/** S3Upload configured from the environment (KILN_S3_*, AWS_*). */
export const s3Upload: ActionModule = createS3Upload(() => s3SettingsFromEnv());
