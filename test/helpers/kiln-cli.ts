import { spawn } from 'node:child_process';
import path from 'node:path';

/** The `kiln` CLI of this checkout. */
export const KILN = path.resolve('bin/kiln');

/** Runs `kiln ARGS --endpoint-url ENDPOINT` with the key in the environment; answers its exit code and output. */
export function kilnAs(endpoint: string, key: { accessKeyId: string; secretAccessKey: string }, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(KILN, [...args, '--endpoint-url', endpoint], { env: { ...process.env, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
