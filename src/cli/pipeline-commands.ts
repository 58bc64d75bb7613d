/**
 * `kiln pipelines history ARN` shows a pipeline's recent schedule ticks (started, skipped and why) and the runs
 * under way; `kiln pipelines webhook ARN` creates or rotates its trigger URL and token (`--delete` removes it).
 * Both go through Kiln's signed `/kiln/pipelines/*` routes.
 */
import type { Command } from 'commander';
import { cliAction, kilnRequest, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { formatTable, printJson } from './table.js';

interface Tick {
  scheduledTime: string;
  outcome: string;
  reason?: string;
  imageBuildVersionArn?: string;
}

/** Adds `kiln pipelines` to the CLI. */
export function registerPipelineCommands(program: Command): void {
  const pipelines = program.command('pipelines').description('image pipelines: schedule history and webhook triggers');
  withServerOptions(pipelines.command('history <imagePipelineArn>').description("a pipeline's recent schedule ticks and runs under way").option('--json', 'print JSON')).action(
    cliAction('kiln pipelines history', async (arn: string, opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/pipelines/history', query: { imagePipelineArn: arn } });
      if (status !== 200) throw routeError(status, body, `reading the history of ${arn}`);
      if (opts.json) {
        printJson(body);
        return;
      }
      const ticks = (body.ticks ?? []) as Tick[];
      const pending = (body.pendingRuns ?? []) as { imageBuildVersionArn: string; buildType: string }[];
      process.stdout.write(
        formatTable(
          [
            { header: 'SCHEDULED', value: (t: Tick) => t.scheduledTime },
            { header: 'OUTCOME', value: (t: Tick) => t.outcome },
            { header: 'IMAGE OR REASON', value: (t: Tick) => t.imageBuildVersionArn ?? t.reason ?? '' },
          ],
          ticks,
        ),
      );
      for (const r of pending) process.stdout.write(`under way: ${r.imageBuildVersionArn} (${r.buildType})\n`);
      if (ticks.length === 0 && pending.length === 0) process.stderr.write('no schedule ticks and no runs under way\n');
    }),
  );
  withServerOptions(
    pipelines
      .command('webhook <imagePipelineArn>')
      .description('create (or rotate) the URL and token that start a run of the pipeline: POST it with "Authorization: Bearer TOKEN"')
      .option('--delete', 'remove the webhook instead')
      .option('--json', 'print {"url","token"} (with --delete: {"imagePipelineArn","deleted":true})'),
  ).action(
    cliAction('kiln pipelines webhook', async (arn: string, opts: ServerTargetOptions & { delete?: boolean; json?: boolean }) => {
      const target = routeTarget(opts);
      if (opts.delete) {
        const { status, body } = await kilnRequest(target, { method: 'DELETE', path: '/kiln/pipelines/webhook', query: { imagePipelineArn: arn } });
        if (status !== 200) throw routeError(status, body, `removing the webhook of ${arn}`);
        if (opts.json) printJson({ imagePipelineArn: arn, deleted: true });
        return;
      }
      const { status, body } = await kilnRequest(target, { method: 'POST', path: '/kiln/pipelines/webhook', body: { imagePipelineArn: arn } });
      if (status !== 201) throw routeError(status, body, `creating the webhook of ${arn}`);
      if (opts.json) printJson({ url: body.url, token: body.token });
      else process.stdout.write(`url:   ${String(body.url)}\ntoken: ${String(body.token)}\n`);
    }),
  );
}
