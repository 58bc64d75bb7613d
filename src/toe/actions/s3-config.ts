import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

/** Where S3Download / S3Upload send their requests: AWS S3 itself or any S3-compatible endpoint. */
export interface S3Settings {
  /** Endpoint URL of an S3-compatible server (MinIO, Ceph, s3rver...); undefined = AWS S3 for the region. */
  endpoint?: string;
  region?: string;
  /** Path-style addressing (http://host/bucket/key), which most self-hosted servers need. */
  forcePathStyle?: boolean;
  /** Static credentials; when absent the SDK's default provider chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** Reads S3 settings from KILN_S3_* variables and the standard AWS ones. */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const settings: S3Settings = {
    region: nonEmpty(env.KILN_S3_REGION) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
  };
  const endpoint = nonEmpty(env.KILN_S3_ENDPOINT) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3);
  if (endpoint !== undefined) settings.endpoint = endpoint;
  const pathStyle = nonEmpty(env.KILN_S3_FORCE_PATH_STYLE);
  if (pathStyle !== undefined) settings.forcePathStyle = /^(1|true|yes|on)$/i.test(pathStyle);
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  // A key pair only makes sense whole; half of one would override the provider chain with a broken identity.
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    settings.accessKeyId = accessKeyId;
    settings.secretAccessKey = secretAccessKey;
    const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
    if (sessionToken !== undefined) settings.sessionToken = sessionToken;
  }
  return settings;
}

/** Builds an S3 client for the settings; the caller destroys it when done. */
export async function createS3Client(settings: S3Settings): Promise<S3Client> {
  // Loaded on first use: the SDK is large, and most runs never touch S3.
  const { S3Client } = await import('@aws-sdk/client-s3');
  const config: S3ClientConfig = { region: settings.region ?? 'us-east-1' };
  if (settings.endpoint !== undefined) {
    config.endpoint = settings.endpoint;
    // Many S3-compatible servers reject the SDK's default flexible checksums (CRC32 headers, aws-chunked bodies).
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (settings.forcePathStyle !== undefined) config.forcePathStyle = settings.forcePathStyle;
  if (settings.accessKeyId !== undefined && settings.secretAccessKey !== undefined) {
    config.credentials = {
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      ...(settings.sessionToken === undefined ? {} : { sessionToken: settings.sessionToken }),
    };
  }
  return new S3Client(config);
}

/** An `s3://bucket/key` location; `key` may be empty. */
export interface S3Location {
  bucket: string;
  key: string;
}

/** Splits an s3:// URI, or returns undefined when it is not one (no scheme or no bucket). */
export function parseS3Uri(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/is.exec(uri.trim());
  if (!match?.[1]) return undefined;
  return { bucket: match[1], key: match[2] ?? '' };
}

/** Formats a location back as a URI, for messages. */
export function s3Uri(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}

/** FieldSpec check for expectedBucketOwner: an AWS account ID. */
export function checkAccountId(value: unknown): string | undefined {
  return typeof value === 'string' && /^\d{12}$/.test(value.trim())
    ? undefined
    : `must be a 12-digit AWS account ID, got ${JSON.stringify(value)}`;
}

/** A readable reason for an SDK failure: the S3 error code when there is one, then its message. */
export function describeS3Error(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const code = err.name && err.name !== 'Error' ? err.name : undefined;
  const parts = [code, err.message].filter((p) => p !== undefined && p !== '');
  return `${parts.join(': ')}${status === undefined ? '' : ` (HTTP ${status})`}`;
}
