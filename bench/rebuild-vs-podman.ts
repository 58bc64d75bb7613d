/**
 * Rebuilds against `podman build` (issue 16): the same work on the same Debian 12 base, Kiln's step cache on
 * (recipe tag `kiln:cache` = `true`) against podman's layer cache, medians of ROUNDS interleaved rounds (each
 * round alternates who goes first, so machine noise hits both alike).
 *
 * The work, three steps: `apt-get update && apt-get install -y jq`; write 200 files; write one more file. Kiln
 * runs them as three one-step components in a container recipe on the managed base debian-12-container-x86,
 * image tests off (podman has no test stage); podman runs a Containerfile of three RUN lines FROM the same base,
 * copied into its private storage with skopeo from an OCI layout of Kiln's base.
 *
 * Figures, Kiln as CreateImage → AVAILABLE seen by a keep-alive SDK client polling GetImage every 20 ms:
 * 1. first build: Kiln with a new version of the first component (so no cache key matches), podman --no-cache;
 * 2. unchanged rebuild: Kiln CreateImage of the same recipe again, podman the same Containerfile again;
 * 3. only the last step changed: Kiln a new version of the third component in a new recipe version, podman the
 *    last RUN's text changed;
 * 4. a machine image (debian-12-x86, ns.medium, cache on, tests off), unchanged rebuild, in seconds
 *    (MACHINE=0 skips it; the machine base bootstrap takes minutes the first time);
 * 5. sizes of `apt-get update && apt-get install -y curl jq` on the base, Kiln's image against podman's.
 * Kiln's cache counters (ApplyBuildComponents outputs cachedComponents/ranComponents) are printed beside its
 * figures, so a rebuild that ran its components shows it.
 *
 * Targets: unchanged ≤ 2× podman's cache hit; last step changed ≤ 1.2×; first build ≤ 1.0× (gzip layers);
 * machine unchanged rebuild ≤ 3 s. Needs root, podman, runc, skopeo and the Debian mirror.
 *
 * It runs itself in a mount namespace of its own: an ns instance mounts its root volume in Kiln's namespace,
 * and any process elsewhere on the machine that makes a mount namespace meanwhile (another Kiln, mmdebstrap,
 * a test's unshare) keeps a copy of that mount, so the volume's loop device outlives the instance and
 * TerminateBuildInstance fails the build. Set KILN_BENCH_SHARED_MOUNT_NS=1 to run in the caller's namespace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { startServer } from '../src/app/server-start.js';
import { exportLayout } from '../src/artifacts/oci/image.js';
import { DEBIAN_CONTAINER_BASE, DEBIAN_MACHINE_BASE, rootfsOf } from '../src/builder/bases/managed-bases.js';
import { readCredentials } from '../test/api/fixture.js';
import { keepAliveClient, median, untilAvailable } from './drive.js';
import { layoutLayerSizes, type LayerSize } from './layout-sizes.js';
import { podmanSkipReason, privatePodman } from './podman.js';

const skip = await podmanSkipReason();
if (skip) {
  console.log(`rebuild-vs-podman benchmark: ${skip}; skipped`);
  process.exit(0);
}

if (process.env.KILN_BENCH_SHARED_MOUNT_NS !== '1') {
  const own = spawnSync('unshare', ['--mount', '--propagation', 'private', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, KILN_BENCH_SHARED_MOUNT_NS: '1' },
  });
  if (own.error) throw own.error;
  process.exit(own.status ?? 1);
}

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const MACHINE = process.env.MACHINE !== '0';
const REGION = 'local';
const CACHE_TAG = { 'kiln:cache': 'true' };
const APT = 'apt-get update && apt-get install -y jq';
const FILES = 'mkdir -p /opt/bench && for i in $(seq 1 200); do echo "file $i" > /opt/bench/f$i; done';
const lastStep = (text: string) => `echo ${text} > /opt/bench/last`;
const SIZE_WORK = 'apt-get update && apt-get install -y curl jq';
const PODMAN_BASE = 'localhost/kiln-debian-12:base';
const DOCKERFILE_TEMPLATE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}';
const containerfile = (...runs: string[]) => `FROM ${PODMAN_BASE}\n${runs.map((r) => `RUN ${r}`).join('\n')}\n`;
const baseArn = (name: string) => `arn:aws:imagebuilder:${REGION}:aws:image/${name}/x.x.x`;

const work = await mkdtemp(path.join(tmpdir(), 'kiln-bench-rebuild-'));
const server = await startServer({ dataDir: path.join(work, 'data'), listen: '127.0.0.1:0' });
const engine = server.engine!;
const ib = keepAliveClient(server.endpoint, readCredentials(server.credentialsPath));
const podman = await privatePodman(path.join(work, 'podman'));

async function component(name: string, version: string, command: string): Promise<string> {
  const data = `name: ${name}\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: run\n        action: ExecuteBash\n        inputs:\n          commands:\n            - ${JSON.stringify(command)}\n`;
  return (await ib.send(new CreateComponentCommand({ name, semanticVersion: version, platform: 'Linux', data }))).componentBuildVersionArn!;
}

async function containerRecipe(name: string, version: string, components: string[]): Promise<string> {
  return (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name,
        semanticVersion: version,
        parentImage: baseArn(DEBIAN_CONTAINER_BASE),
        targetRepository: { service: 'ECR', repositoryName: `bench/${name}` },
        components: components.map((componentArn) => ({ componentArn })),
        dockerfileTemplateData: DOCKERFILE_TEMPLATE,
        tags: CACHE_TAG,
      }),
    )
  ).containerRecipeArn!;
}

// With the network (no subnetId 'none'): apt reaches the mirror through the instance's NAT.
const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'bench', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }))).infrastructureConfigurationArn!;

interface KilnBuild {
  ms: number;
  arn: string;
}

/** One build of a recipe, timed from CreateImage to AVAILABLE as the client sees it. */
async function kilnBuild(recipe: { containerRecipeArn: string } | { imageRecipeArn: string }, tests = false): Promise<KilnBuild> {
  const start = performance.now();
  const arn = (await ib.send(new CreateImageCommand({ ...recipe, infrastructureConfigurationArn: infra, imageTestsConfiguration: { imageTestsEnabled: tests } }))).imageBuildVersionArn!;
  return { ms: await untilAvailable(ib, arn, start), arn };
}

/** The build's cache counters from its ApplyBuildComponents step outputs: "cached/ran", or "?" when not reported. */
async function cacheCounts(arn: string): Promise<string> {
  const executions = (await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  const build = executions.find((e) => e.type === 'BUILD');
  if (!build) return '?';
  const steps = (await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: build.workflowExecutionId }))).steps ?? [];
  const apply = steps.find((s) => s.name === 'ApplyBuildComponents');
  let outputs: { cachedComponents?: number; ranComponents?: number } = {};
  try {
    outputs = JSON.parse(apply?.outputs ?? '{}') as typeof outputs;
  } catch {
    return '?';
  }
  return outputs.cachedComponents === undefined ? '?' : `${outputs.cachedComponents}/${outputs.ranComponents ?? '?'}`;
}

/** A managed base's stored image, bootstrapped now if it is not yet (not timed). */
async function managedBase(name: string) {
  const [record] = await engine.services.store.listResources({ accountId: 'aws', region: REGION, type: 'image', name });
  if (!record) throw new Error(`the managed base ${name} is not registered`);
  const start = performance.now();
  const ref = await engine.bases.image(record);
  console.log(`managed base ${name} ready in ${((performance.now() - start) / 1000).toFixed(1)} s (not timed)`);
  return ref;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const runs = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

interface Figure {
  label: string;
  kiln: number[];
  podman: number[];
  /** Kiln/podman ratio the issue targets. */
  target: number;
  counts: string[];
}

function printFigure(f: Figure): void {
  const k = median(f.kiln);
  const p = median(f.podman);
  const ratio = k / p;
  console.log(
    `${f.label.padEnd(30)} kiln ${seconds(k).padStart(8)}  podman ${seconds(p).padStart(8)}  kiln/podman ${ratio.toFixed(2).padStart(6)}  target ≤ ${f.target.toFixed(1)} ${ratio <= f.target ? 'met' : 'NOT met'}`,
  );
  console.log(`${''.padEnd(30)} kiln runs ${runs(f.kiln)}; podman runs ${runs(f.podman)}; kiln cached/ran components ${f.counts.join(', ')}`);
}

function printSizes(label: string, layers: LayerSize[], baseLayers: number): void {
  const sum = (ls: LayerSize[], key: 'compressed' | 'uncompressed') => ls.reduce((n, l) => n + l[key], 0);
  const added = layers.slice(baseLayers);
  console.log(
    `${label.padEnd(8)} added ${added.length} layer(s): ${mb(sum(added, 'compressed'))} compressed, ${mb(sum(added, 'uncompressed'))} uncompressed; ` +
      `whole image: ${mb(sum(layers, 'compressed'))} compressed, ${mb(sum(layers, 'uncompressed'))} uncompressed`,
  );
}

try {
  const base = await managedBase(DEBIAN_CONTAINER_BASE);
  const baseLayout = path.join(work, 'base-layout');
  await exportLayout(engine.services.blobs, base.manifestDigest, baseLayout, 'base');
  await podman.load(`oci:${baseLayout}:base`, PODMAN_BASE);

  // Components and recipe versions are new for every build that must miss the cache.
  const files = await component('bench-files', '1.0.0', FILES);
  const last = await component('bench-last', '1.0.0', lastStep('last'));
  const apt0 = await component('bench-apt', '1.0.0', APT);

  // Warm-up, not timed: JIT, page cache, Kiln's unpacked base and podman's first use of its storage.
  const warm = Date.now();
  await kilnBuild({ containerRecipeArn: await containerRecipe('bench', '1.0.0', [apt0, files, last]) });
  await podman.build(containerfile(APT, FILES, lastStep('last')), 'localhost/bench:warm', { noCache: true });
  console.log(`warm-up builds took ${((Date.now() - warm) / 1000).toFixed(1)} s (not timed)\n`);

  const first: Figure = { label: 'first build (cold cache)', kiln: [], podman: [], target: 1.0, counts: [] };
  const unchanged: Figure = { label: 'rebuild, nothing changed', kiln: [], podman: [], target: 2.0, counts: [] };
  const changed: Figure = { label: 'rebuild, last step changed', kiln: [], podman: [], target: 1.2, counts: [] };
  const tested: number[] = [];
  const testedCounts: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const kilnFirst = round % 2 === 1;
    const pair = async (f: Figure, kiln: () => Promise<KilnBuild>, podmanBuild: () => Promise<number>) => {
      const k = async () => {
        const b = await kiln();
        f.kiln.push(b.ms);
        f.counts.push(await cacheCounts(b.arn));
      };
      const p = async () => f.podman.push(await podmanBuild());
      if (kilnFirst) {
        await k();
        await p();
      } else {
        await p();
        await k();
      }
    };
    const apt = await component('bench-apt', `1.0.${round}`, APT);
    const recipe = await containerRecipe('bench', `1.${round}.0`, [apt, files, last]);
    const same = containerfile(APT, FILES, lastStep('last'));
    await pair(first, () => kilnBuild({ containerRecipeArn: recipe }), () => podman.build(same, `localhost/bench:${round}`, { noCache: true }));
    await pair(unchanged, () => kilnBuild({ containerRecipeArn: recipe }), () => podman.build(same, `localhost/bench:${round}`));
    const withTests = await kilnBuild({ containerRecipeArn: recipe }, true);
    tested.push(withTests.ms);
    testedCounts.push(await cacheCounts(withTests.arn));
    const lastChanged = await component('bench-last', `2.0.${round}`, lastStep(`changed-${round}`));
    const changedRecipe = await containerRecipe('bench', `1.${round}.1`, [apt, files, lastChanged]);
    await pair(changed, () => kilnBuild({ containerRecipeArn: changedRecipe }), () => podman.build(containerfile(APT, FILES, lastStep(`changed-${round}`)), `localhost/bench:${round}-changed`));
    console.log(`round ${round}/${ROUNDS} done`);
  }

  console.log(`\ncontainer builds on Debian 12 (${DEBIAN_CONTAINER_BASE}), 3 steps (apt jq, 200 files, 1 file), median of ${ROUNDS} interleaved rounds`);
  printFigure(first);
  printFigure(unchanged);
  printFigure(changed);
  console.log(`${'kiln rebuild with tests on'.padEnd(30)} kiln ${seconds(median(tested)).padStart(8)}  (for information; runs ${runs(tested)}; cached/ran ${testedCounts.join(', ')})`);

  // Sizes: one step, the same text on both sides.
  const sizeRecipe = await containerRecipe('bench-size', '1.0.0', [await component('bench-size', '1.0.0', SIZE_WORK)]);
  const sized = await kilnBuild({ containerRecipeArn: sizeRecipe });
  const sizedRef = rootfsOf((await engine.services.store.getResource(sized.arn))!);
  if (!sizedRef) throw new Error(`the image ${sized.arn} has no stored container image`);
  const kilnLayout = path.join(work, 'size-kiln');
  await exportLayout(engine.services.blobs, sizedRef.manifestDigest, kilnLayout, 'kiln');
  await podman.build(containerfile(SIZE_WORK), 'localhost/bench-size:1');
  const podmanLayout = path.join(work, 'size-podman');
  await podman.exportLayout('localhost/bench-size:1', podmanLayout, 'podman');
  const baseLayers = (await layoutLayerSizes(baseLayout, 'base')).length;
  console.log(`\nimage sizes for '${SIZE_WORK}' on the same base (gzip layers; podman's exported with skopeo)`);
  printSizes('kiln', await layoutLayerSizes(kilnLayout, 'kiln'), baseLayers);
  printSizes('podman', await layoutLayerSizes(podmanLayout, 'podman'), baseLayers);

  if (MACHINE) {
    await managedBase(DEBIAN_MACHINE_BASE);
    const machineRecipe = (
      await ib.send(new CreateImageRecipeCommand({ name: 'bench-machine', semanticVersion: '1.0.0', parentImage: baseArn(DEBIAN_MACHINE_BASE), components: [apt0, files, last].map((componentArn) => ({ componentArn })), tags: CACHE_TAG }))
    ).imageRecipeArn!;
    const firstMachine = await kilnBuild({ imageRecipeArn: machineRecipe });
    const machineRuns: number[] = [];
    const machineCounts: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const b = await kilnBuild({ imageRecipeArn: machineRecipe });
      machineRuns.push(b.ms);
      machineCounts.push(await cacheCounts(b.arn));
    }
    const m = median(machineRuns);
    console.log(`\nmachine image (${DEBIAN_MACHINE_BASE}, ns.medium, cache on, tests off), same 3 steps; first build ${seconds(firstMachine.ms)} (cached/ran ${await cacheCounts(firstMachine.arn)})`);
    console.log(`${'rebuild, nothing changed'.padEnd(30)} kiln ${seconds(m).padStart(8)}  target ≤ 3 s ${m <= 3000 ? 'met' : 'NOT met'}  (runs ${runs(machineRuns)}; cached/ran ${machineCounts.join(', ')})`);
  } else {
    console.log('\nmachine image figure skipped (MACHINE=0)');
  }
} finally {
  ib.destroy();
  await server.close();
  const closed = await podman.close().then(
    () => true,
    (err: unknown) => (console.error((err as Error).message), false),
  );
  if (closed) await rm(work, { recursive: true, force: true });
}
