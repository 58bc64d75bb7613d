/**
 * `kiln pipelines history ARN` shows a pipeline's recent schedule ticks (started, skipped and why) and the runs
 * under way; `kiln pipelines webhook ARN` creates or rotates its trigger URL and token (`--delete` removes it).
 * Both go through Kiln's signed `/kiln/pipelines/*` routes.
 */
import type { Command } from 'commander';
import { DEFAULT_LISTEN } from './server-defaults.js';
import { cliAction, kilnRequest, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';

interface Tick {
  scheduledTime: string;
  outcome: string;
  reason?: string;
  imageBuildVersionArn?: string;
}

/** Adds `kiln pipelines` to the CLI. */
export function registerPipelineCommands(program: Command): void {
  const pipelines = program.command('pipelines').description('image pipelines: schedule history and webhook triggers');
  const endpoint = `http://${DEFAULT_LISTEN}`;
  withServerOptions(pipelines.command('history <imagePipelineArn>').description("a pipeline's recent schedule ticks and runs under way").option('--json', 'print JSON'), endpoint).action(
    cliAction('kiln pipelines history', async (arn: string, opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/pipelines/history', query: { imagePipelineArn: arn } });
      if (status !== 200) throw routeError(status, body, `reading the history of ${arn}`);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(body)}\n`);
        return;
      }
      for (const t of (body.ticks ?? []) as Tick[]) process.stdout.write(`${t.scheduledTime}  ${t.outcome.padEnd(7)}  ${t.imageBuildVersionArn ?? t.reason ?? ''}\n`);
      for (const r of (body.pendingRuns ?? []) as { imageBuildVersionArn: string; buildType: string }[]) process.stdout.write(`under way: ${r.imageBuildVersionArn} (${r.buildType})\n`);
    }),
  );
  withServerOptions(
    pipelines
      .command('webhook <imagePipelineArn>')
      .description('create (or rotate) the URL and token that start a run of the pipeline: POST it with "Authorization: Bearer TOKEN"')
      .option('--delete', 'remove the webhook instead'),
    endpoint,
  ).action(
    cliAction('kiln pipelines webhook', async (arn: string, opts: ServerTargetOptions & { delete?: boolean }) => {
      const target = routeTarget(opts);
      if (opts.delete) {
        const { status, body } = await kilnRequest(target, { method: 'DELETE', path: '/kiln/pipelines/webhook', query: { imagePipelineArn: arn } });
        if (status !== 200) throw routeError(status, body, `removing the webhook of ${arn}`);
        return;
      }
      const { status, body } = await kilnRequest(target, { method: 'POST', path: '/kiln/pipelines/webhook', body: { imagePipelineArn: arn } });
      if (status !== 201) throw routeError(status, body, `creating the webhook of ${arn}`);
      process.stdout.write(`url:   ${String(body.url)}\ntoken: ${String(body.token)}\n`);
    }),
  );
}
