/**
 * `kiln build --recipe FILE [--component FILE …] [--output TARGET] …`: builds a recipe on this machine without a
 * server, as `docker build` and `packer build` are used on a laptop or in CI. Kiln's engine runs in this process
 * on a data directory (default `~/.cache/kiln`: bases, layers, the step cache, the store); the build's step logs
 * stream to stderr as it goes; the exit status is 0 when the image is AVAILABLE, 1 when it failed, 130 when
 * interrupted (the build is cancelled and what it held released first).
 */
import type { Command } from 'commander';
import { CliError, cliAction, EXIT, UsageError } from './kiln-client.js';
import { printJson } from './table.js';

// The engine's modules (fastify, SQLite, the SDK) load only when the command runs.
const loadInputs = () => import('../app/local-build/inputs.js');

interface BuildOptions {
  recipe: string;
  component: string[];
  parameters?: string;
  output?: string;
  cache: boolean;
  tests?: boolean;
  destTlsVerify?: string;
  dataDir?: string;
  config?: string;
  endpointUrl?: string;
  json?: boolean;
}

/** Turns the engine's input errors into one-line CLI errors (exit status 1). */
async function asCliError<T>(fn: () => Promise<T> | T): Promise<T> {
  const { BuildInputError } = await loadInputs();
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BuildInputError) throw new CliError(err.message);
    if ((err as { name?: string }).name === 'KilnError') throw new CliError((err as Error).message);
    throw err;
  }
}

function parseBool(flag: string, text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new UsageError(`${flag} must be true or false, got '${text}'`);
}

/** SIGINT/SIGTERM abort the build once; a second one leaves at once (the next start sweeps what is left). */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`kiln build: ${name} again, leaving without cleaning up (the next kiln build or serve on this data directory sweeps it)\n`);
      process.exit(EXIT.INTERRUPTED);
    }
    process.stderr.write(`kiln build: ${name} received, cancelling the build\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function runBuild(opts: BuildOptions): Promise<number> {
  const inputs = await loadInputs();
  const tlsVerify = parseBool('--dest-tls-verify', opts.destTlsVerify);
  const [{ parseOutputSpec }, { localBuildDataDir, startLocalEngine }, resources, results, { runLogs }] = await Promise.all([
    import('../app/local-build/build-output.js'),
    import('../app/local-build/local-engine.js'),
    import('../app/local-build/local-resources.js'),
    import('../app/local-build/build-result.js'),
    import('./logs-command.js'),
  ]);
  // Everything the user gave is checked before the engine starts.
  const { recipe, components, parameters, output } = await asCliError(() => {
    const recipe = inputs.readRecipeFile(opts.recipe);
    return { recipe, components: inputs.readComponentFiles(opts.component), parameters: inputs.parseParameters(opts.parameters), output: opts.output === undefined ? undefined : parseOutputSpec(opts.output, recipe.kind) };
  });
  const dataDir = localBuildDataDir(opts.dataDir);
  const interrupt = interruptible();
  const err = (text: string) => void process.stderr.write(text);
  try {
    const engine = await asCliError(() => startLocalEngine({ dataDir, ...(opts.config === undefined ? {} : { configPath: opts.config }) }));
    const client = resources.localClient(engine);
    try {
      const creating = asCliError(() =>
        resources.createLocalImage(engine, client, {
          recipe,
          components,
          parameters,
          cache: opts.cache,
          tests: opts.tests ?? true,
          ...(opts.endpointUrl === undefined ? {} : { endpointUrl: opts.endpointUrl }),
          signal: interrupt.signal,
        }),
      );
      // Interrupted before the image exists: nothing runs yet, so there is nothing to cancel.
      const imageArn = await creating.catch((e: unknown) => {
        if (interrupt.signal.aborted) return undefined;
        throw e;
      });
      if (imageArn === undefined) return EXIT.INTERRUPTED;
      err(`kiln build: ${imageArn} (cache ${opts.cache ? 'on' : 'off'}, tests ${(opts.tests ?? true) ? 'on' : 'off'})\n`);
      try {
        await runLogs(imageArn, { follow: true, endpoint: engine.server.endpoint, region: engine.region, dataDir, credentials: { ...engine.credentials, source: 'kiln build' }, announceEnd: false, pollMs: 300, signal: interrupt.signal }, err, err);
      } catch (e) {
        if (!interrupt.signal.aborted) throw e;
      }
      if (interrupt.signal.aborted) {
        const state = await results.cancelLocalImage(client, imageArn);
        err(`kiln build: ${imageArn} is ${state}\n`);
        return EXIT.INTERRUPTED;
      }
      const result = await results.readLocalBuildResult(client, imageArn);
      const cache = result.cachedComponents === undefined ? '' : ` (${result.cachedComponents} cached, ${result.ranComponents ?? 0} ran)`;
      if (result.state !== 'AVAILABLE') {
        err(`kiln build: ${imageArn} is ${result.state}${result.reason ? `: ${result.reason}` : ''}\n`);
        if (opts.json) printJson(result);
        return EXIT.FAILURE;
      }
      let location: string | undefined;
      try {
        location = output ? await asCliError(() => writeOutput(engine, result, output, tlsVerify, interrupt.signal)) : undefined;
      } catch (e) {
        if (!interrupt.signal.aborted) throw e;
      }
      if (interrupt.signal.aborted) {
        err(`kiln build: interrupted while writing the output; ${imageArn} stays in the data directory\n`);
        return EXIT.INTERRUPTED;
      }
      err(`kiln build: ${imageArn} is AVAILABLE${cache}${location ? `, written to ${location}` : ''}\n`);
      if (opts.json) printJson({ ...result, ...(location ? { output: location } : {}) });
      else process.stdout.write(`${location ?? result.digest ?? result.amiId ?? imageArn}\n`);
      return EXIT.SUCCESS;
    } finally {
      client.destroy();
      await engine.close();
    }
  } finally {
    interrupt.dispose();
  }
}

/** Writes the output, loaded only when asked for. */
async function writeOutput(engine: import('../app/local-build/local-engine.js').LocalEngine, result: import('../app/local-build/build-result.js').LocalBuildResult, spec: import('../app/local-build/build-output.js').OutputSpec, tlsVerify: boolean | undefined, signal: AbortSignal): Promise<string> {
  const { writeBuildOutput } = await import('../app/local-build/build-output.js');
  return writeBuildOutput(engine, result, spec, { ...(tlsVerify === undefined ? {} : { tlsVerify }), signal });
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Adds `kiln build` to the CLI. */
export function registerBuildCommand(program: Command): void {
  program
    .command('build')
    .description('build an image or container recipe on this machine, without a server (as docker build or packer build)')
    .requiredOption('--recipe <file>', 'JSON or YAML of a CreateImageRecipe or CreateContainerRecipe request')
    .option('--component <file>', 'an AWSTOE document, appended to the recipe\'s components (repeatable; in order)', collect, [])
    .option('--parameters <list>', 'component parameters NAME=VALUE,…, set on every component that declares them')
    .option('--output <target>', 'oci:DIR[:TAG], docker-archive:FILE[:REF] or REGISTRY/REPO:TAG for a container recipe; disk:FILE.qcow2 (.raw, .vmdk, .vhd) for an image recipe (default: the image stays in the data directory)')
    .option('--no-cache', 'run every component afresh (the step cache is on by default: recipe tag kiln:cache=true)')
    .option('--tests', 'run the components\' test phases (the default)')
    .option('--no-tests', 'skip the test phases')
    .option('--dest-tls-verify <bool>', 'verify TLS when pushing to REGISTRY/REPO:TAG (default: true, false for a loopback registry)')
    .option('--data-dir <dir>', 'data directory for bases, layers, the cache and the store (default: $KILN_DATA_DIR or ~/.cache/kiln)')
    .option('--config <file>', 'server configuration file (registries, debianMirror, layerCompression, …), as kiln serve --config')
    .option('--endpoint-url <url>', 'a Kiln to fetch the recipe\'s components of other accounts from (keys from the AWS environment or profile)')
    .option('--json', 'print {"image","state","reason","output","digest","amiId","cachedComponents","ranComponents"} on stdout at the end')
    .action(cliAction('kiln build', (opts: BuildOptions) => runBuild(opts)));
}
