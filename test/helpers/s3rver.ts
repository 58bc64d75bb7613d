import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Settings } from '../../src/toe/actions/s3-config.js';

/** The part of s3rver's (untyped, CommonJS) API the tests use. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

const require = createRequire(import.meta.url);

/** A real S3-compatible server (s3rver) on 127.0.0.1, storing its data in `directory`. */
export interface LocalS3 {
  settings: S3Settings;
  /** A client for seeding and inspecting buckets; destroyed by stop(). */
  client: S3Client;
  stop(): Promise<void>;
  /** Closes the server and keeps its data, as an outage would (`up` serves it again on the same port). */
  down(): Promise<void>;
  up(): Promise<void>;
}

/** Starts s3rver on an ephemeral loopback port with the given buckets created. */
export async function startLocalS3(directory: string, buckets: string[]): Promise<LocalS3> {
  const S3rver = require('s3rver') as S3rverConstructor;
  let server: S3rverServer | undefined = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = await server.run();
  const settings: S3Settings = {
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
  const client = await createS3Client(settings);
  for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    settings,
    client,
    stop: async () => {
      client.destroy();
      await server?.close();
      server = undefined;
    },
    down: async () => {
      await server?.close();
      server = undefined;
    },
    up: async () => {
      if (server) return;
      server = new S3rver({ address: '127.0.0.1', port: address.port, silent: true, directory });
      await server.run();
    },
  };
}
