// Machine images end to end through the stock SDK: the Kiln-managed Debian 12 machine base, an image recipe
// whose component installs a package from the mirror and enables a systemd service, a test stage that boots the
// output disk in QEMU and checks the service through the guest agent, machine images registered with launch
// permissions, an export to a configured bucket, `kiln images export` to qcow2 booted by a plain QEMU started
// here (the service answers over the network), a vm.* build chained on the first image, another account's use,
// and a component that breaks the boot failing the test stage with the serial console in the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  GetWorkflowStepExecutionCommand,
  ImagebuilderClient,
  ListImagePackagesCommand,
  ListImagesCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  paginateListImagePackages,
} from '@aws-sdk/client-imagebuilder';
import { createAccount } from '../../src/service/accounts.js';
import { OVMF_FIRMWARE } from '../../src/drivers/vm/qemu.js';
import { bashComponent, hostLeftovers, machineSkipReason, run, startBuildServer, waitForImage } from './helpers.js';

const KILN = path.resolve('bin/kiln');

/** The CLI's options go before a `--` that starts a command to run in an instance. */
function withEndpoint(args: string[], endpoint: string): string[] {
  const end = args.indexOf('--');
  return end < 0 ? [...args, '--endpoint', endpoint] : [...args.slice(0, end), '--endpoint', endpoint, ...args.slice(end)];
}
const BASE = 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x';


/** busybox's httpd as a systemd service answering on port 80: the service the checks look for. */
const SERVICE_UNIT = `[Unit]
Description=Kiln hello service
After=network.target

[Service]
ExecStart=/bin/busybox httpd -f -p 80 -h /srv/hello

[Install]
WantedBy=multi-user.target
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** QEMU processes whose command line names a path under `dir` (read from /proc, never from the server). */
function qemuPids(dir: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('qemu-system') && cmd.includes(dir);
      } catch {
        return false;
      }
    });
}

test('machine images: managed Debian base → image recipe → boot test → machine images, exports, vm build, sharing, boot failure', { skip: await machineSkipReason(), timeout: 40 * 60_000 }, async (t) => {
  const exportsDir = mkdtempSync(path.join(tmpdir(), 'kiln-exports-'));
  t.after(() => rmSync(exportsDir, { recursive: true, force: true }));
  const kiln = await startBuildServer(t, { exportBuckets: { 'kiln-exports': exportsDir } });
  const { client } = kiln;
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - t0;
    }
  };

  // The managed machine base is listed as Amazon's, as an AMI.
  const amazon = await client.send(new ListImagesCommand({ owner: 'Amazon' }));
  const base = amazon.imageVersionList?.find((i) => i.name === 'debian-12-x86');
  assert.ok(base, 'ListImages owner Amazon lists debian-12-x86');
  assert.equal(base.type, 'AMI');

  const store = kiln.server.engine!.services.store;
  const other = await createAccount(store, 'launcher');
  const stranger = await createAccount(store, 'stranger');

  const serviceComponent = bashComponent({
    build: [
      'apt-get update',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox',
      'rm -rf /var/lib/apt/lists/*',
      'mkdir -p /srv/hello && echo "hello from kiln" > /srv/hello/index.html',
      `printf '%b' ${JSON.stringify(SERVICE_UNIT)} > /etc/systemd/system/kiln-hello.service`,
      'systemctl enable kiln-hello.service',
    ],
    validate: ['test -L /etc/systemd/system/multi-user.target.wants/kiln-hello.service'],
    test: ['for i in $(seq 1 60); do systemctl is-active --quiet kiln-hello && break; sleep 1; done', 'systemctl is-active kiln-hello', 'busybox wget -qO- http://127.0.0.1/ | grep -q "hello from kiln"'],
  });
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'hello-service', semanticVersion: '1.0.0', platform: 'Linux', data: serviceComponent }))).componentBuildVersionArn!;
  const recipe = await client.send(
    new CreateImageRecipeCommand({
      name: 'debian-hello',
      semanticVersion: '1.0.0',
      parentImage: BASE,
      // Amazon's managed components around the recipe's own (issue 17): reboot-test-linux reboots the test VM for real.
      components: [
        { componentArn: 'arn:aws:imagebuilder:local:aws:component/update-linux/x.x.x' },
        { componentArn: 'arn:aws:imagebuilder:local:aws:component/reboot-linux/x.x.x' },
        { componentArn },
        { componentArn: 'arn:aws:imagebuilder:local:aws:component/simple-boot-test-linux/x.x.x' },
        { componentArn: 'arn:aws:imagebuilder:local:aws:component/reboot-test-linux/x.x.x' },
      ],
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 3 } }],
    }),
  );
  const infra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'machine-ns', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }));
  const dist = await client.send(
    new CreateDistributionConfigurationCommand({
      name: 'machine-dist',
      distributions: [
        {
          region: 'local',
          amiDistributionConfiguration: { name: 'debian-hello {{ imagebuilder:buildDate }}', description: 'Debian with a hello service', amiTags: { team: 'kiln' }, launchPermission: { userIds: [other.account.accountId] } },
          s3ExportConfiguration: { roleName: 'kiln', diskImageFormat: 'RAW', s3Bucket: 'kiln-exports', s3Prefix: 'hello' },
        },
      ],
    }),
  );
  const created = await client.send(new CreateImageCommand({ imageRecipeArn: recipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, distributionConfigurationArn: dist.distributionConfigurationArn }));
  const image = await timed('ns build (with base bootstrap)', () => waitForImage(client, created.imageBuildVersionArn!, { timeoutMs: 20 * 60_000 }));
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  const ami = image.outputResources?.amis?.[0];
  assert.ok(ami?.image && /^ami-[0-9a-f]{17}$/.test(ami.image), `an ami- id: ${JSON.stringify(image.outputResources)}`);
  assert.match(ami.name ?? '', /^debian-hello \d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}/);
  assert.equal(ami.region, 'local');
  const buildLog = await run(KILN, ['logs', image.arn!, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]);
  assert.match(buildLog, /simple-boot-test-linux: systemd says the system is running/);
  assert.match(buildLog, /reboot-test-linux: rebooted from boot \S+ into boot \S+/, 'the test VM rebooted for real, into a new boot');
  // Signed when its disk was stored (issue 18): the signature verifies and the stored disk still has its digest.
  assert.match(await run(KILN, ['images', 'verify', ami.image, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]), /: verified: disk sha256:[0-9a-f]{64} is stored unchanged/);

  // The workflows AWS runs for an AMI, each completed.
  const executions = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn }))).workflowExecutions ?? [];
  assert.deepEqual(executions.map((e) => [e.type, e.status]), [['BUILD', 'COMPLETED'], ['TEST', 'COMPLETED'], ['DISTRIBUTION', 'COMPLETED']]);
  const testSteps = (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: executions[1]!.workflowExecutionId }))).steps ?? [];
  assert.deepEqual(testSteps.map((s) => s.name), ['LaunchTestInstance', 'ApplyTestComponents', 'TerminateTestInstance']);

  // ListImagePackages reads the disk's dpkg database: the kernel, the guest agent and what the component added.
  const firstPage = await client.send(new ListImagePackagesCommand({ imageBuildVersionArn: image.arn, maxResults: 25 }));
  assert.equal(firstPage.imagePackageList?.length, 25);
  assert.ok(firstPage.nextToken, 'more than one page');
  const names = new Set<string>();
  for await (const page of paginateListImagePackages({ client }, { imageBuildVersionArn: image.arn })) for (const p of page.imagePackageList ?? []) names.add(p.packageName!);
  assert.ok(names.size > 100, `${names.size} packages`);
  for (const name of ['busybox', 'qemu-guest-agent', 'systemd', 'linux-image-cloud-amd64']) assert.ok(names.has(name), `${name} is listed`);

  // s3ExportConfiguration wrote a RAW disk to the configured bucket directory.
  const exported = path.join(exportsDir, 'hello', `${ami.image}.raw`);
  const info = JSON.parse(await run('qemu-img', ['info', '--output=json', exported])) as { format: string; 'virtual-size': number };
  assert.equal(info.format, 'raw');
  assert.equal(info['virtual-size'], 3 * 1024 ** 3, 'blockDeviceMappings set the root volume size');

  // `kiln images export` to qcow2, booted by a plain QEMU started here: the service answers over the network.
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-machine-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const env = { ...process.env, AWS_ACCESS_KEY_ID: kiln.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: kiln.credentials.secretAccessKey };
  const kilnCli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(KILN, withEndpoint(args, kiln.server.endpoint), { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const qcow2 = path.join(work, 'hello.qcow2');
  const exportRun = await timed('kiln images export qcow2', () => kilnCli(['images', 'export', ami.image!, '--format', 'qcow2', '-o', qcow2]));
  assert.equal(exportRun.code, 0, exportRun.stderr);
  assert.equal((JSON.parse(await run('qemu-img', ['info', '--output=json', qcow2])) as { format: string }).format, 'qcow2');
  const port = await freePort();
  const qemu = spawn('qemu-system-x86_64', ['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '1024', '-smp', '2', '-nographic', '-bios', OVMF_FIRMWARE, '-drive', `file=${qcow2},if=virtio,format=qcow2`, '-nic', `user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:${port}-:80`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let console = '';
  qemu.stdout.on('data', (d: Buffer) => (console = (console + d.toString()).slice(-8000)));
  const stopQemu = () => {
    try {
      process.kill(-qemu.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  t.after(stopQemu);
  let answer = '';
  const bootStart = Date.now();
  while (Date.now() - bootStart < 300_000 && !answer.includes('hello from kiln')) {
    answer = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.text())
      .catch(() => '');
    if (!answer) await sleep(1000);
  }
  timings['plain QEMU boot of the exported qcow2 to an answering service'] = Date.now() - bootStart;
  stopQemu();
  assert.match(answer, /hello from kiln/, `the service answered from the exported disk; console tail:\n${console}`);

  // `kiln images ls` as the account named in launchPermission sees the image; a stranger does not.
  const asAccount = (key: { accessKeyId: string; secretAccessKey: string }) => new ImagebuilderClient({ endpoint: kiln.server.endpoint, region: 'local', credentials: key, maxAttempts: 1 });
  const otherEnv = { ...process.env, AWS_ACCESS_KEY_ID: other.key.accessKeyId, AWS_SECRET_ACCESS_KEY: other.key.secretAccessKey };
  const ls = await run('env', [...Object.entries(otherEnv).filter(([k]) => k.startsWith('AWS_')).map(([k, v]) => `${k}=${v}`), KILN, 'images', 'ls', '--json', '--endpoint', kiln.server.endpoint]);
  assert.ok((JSON.parse(ls) as { imageId: string }[]).some((i) => i.imageId === ami.image), 'the launch permission lets the account see it');

  // The permitted account builds on the machine image by id (no test stage: the ns build alone); a stranger cannot.
  const buildOn = async (key: { accessKeyId: string; secretAccessKey: string }, name: string) => {
    const c = asAccount(key);
    t.after(() => c.destroy());
    const comp = (await c.send(new CreateComponentCommand({ name: `${name}-c`, semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo chained > /etc/kiln-chained'] }) }))).componentBuildVersionArn!;
    const r = await c.send(new CreateImageRecipeCommand({ name, semanticVersion: '1.0.0', parentImage: ami.image!, components: [{ componentArn: comp }] }));
    const i = await c.send(new CreateInfrastructureConfigurationCommand({ name: `${name}-infra`, instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
    const arn = (await c.send(new CreateImageCommand({ imageRecipeArn: r.imageRecipeArn, infrastructureConfigurationArn: i.infrastructureConfigurationArn, imageTestsConfiguration: { imageTestsEnabled: false } }))).imageBuildVersionArn!;
    return waitForImage(c, arn, { timeoutMs: 600_000 });
  };
  const permitted = await timed('ns build on a shared machine image, tests off', () => buildOn(other.key, 'on-shared'));
  assert.equal(permitted.state?.status, 'AVAILABLE', permitted.state?.reason);
  // A stranger's recipe naming it is refused at create, naming the field.
  const strangerClient = asAccount(stranger.key);
  t.after(() => strangerClient.destroy());
  const strangerComponent = (await strangerClient.send(new CreateComponentCommand({ name: 'not-shared-c', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['true'] }) }))).componentBuildVersionArn!;
  await assert.rejects(
    strangerClient.send(new CreateImageRecipeCommand({ name: 'not-shared', semanticVersion: '1.0.0', parentImage: ami.image!, components: [{ componentArn: strangerComponent }] })),
    (err: Error) => err.name === 'InvalidParameterValueException' && /parentImage/.test(err.message) && /not a machine image that account \d{12} may launch/.test(err.message),
  );

  // A vm.* build chained on the first image: the VM boots the parent's disk and runs the component through the
  // guest agent; the test stage boots the result and finds both the parent's service and the new file.
  const vmComponent = (await client.send(new CreateComponentCommand({
    name: 'vm-step',
    semanticVersion: '1.0.0',
    platform: 'Linux',
    // Exit code 194 asks AWSTOE for a reboot: the VM really restarts (a new boot id) and the step runs again.
    data: bashComponent({ build: ['if [ ! -f /root/boot-before ]; then cat /proc/sys/kernel/random/boot_id > /root/boot-before; exit 194; fi', '! cmp -s /root/boot-before /proc/sys/kernel/random/boot_id', 'echo "built in a vm" > /etc/kiln-vm', 'for i in $(seq 1 60); do systemctl is-active --quiet kiln-hello && break; sleep 1; done', 'systemctl is-active kiln-hello'], test: ['grep -qx "built in a vm" /etc/kiln-vm', 'for i in $(seq 1 60); do systemctl is-active --quiet kiln-hello && break; sleep 1; done', 'systemctl is-active kiln-hello'] }),
  }))).componentBuildVersionArn!;
  const vmRecipe = await client.send(new CreateImageRecipeCommand({ name: 'hello-vm', semanticVersion: '1.0.0', parentImage: image.arn, components: [{ componentArn: vmComponent }] }));
  const vmInfra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'machine-vm', instanceProfileName: 'kiln', instanceTypes: ['vm.small'] }));
  const vmImage = await timed('vm build + boot test', async () =>
    waitForImage(client, (await client.send(new CreateImageCommand({ imageRecipeArn: vmRecipe.imageRecipeArn, infrastructureConfigurationArn: vmInfra.infrastructureConfigurationArn }))).imageBuildVersionArn!, { timeoutMs: 20 * 60_000 }),
  );
  assert.equal(vmImage.state?.status, 'AVAILABLE', vmImage.state?.reason);
  assert.match(vmImage.outputResources?.amis?.[0]?.image ?? '', /^ami-/);

  // An ns build on the vm-built image: its root filesystem is read from its disk, with the vm build's change.
  const onVm = (await client.send(new CreateComponentCommand({ name: 'on-vm', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['grep -qx "built in a vm" /etc/kiln-vm', 'test -L /etc/systemd/system/multi-user.target.wants/kiln-hello.service'] }) }))).componentBuildVersionArn!;
  const onVmRecipe = await client.send(new CreateImageRecipeCommand({ name: 'on-vm', semanticVersion: '1.0.0', parentImage: vmImage.outputResources!.amis![0]!.image!, components: [{ componentArn: onVm }] }));
  const onVmImage = await timed('ns build on a vm-built image, tests off', async () =>
    waitForImage(client, (await client.send(new CreateImageCommand({ imageRecipeArn: onVmRecipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, imageTestsConfiguration: { imageTestsEnabled: false } }))).imageBuildVersionArn!, { timeoutMs: 600_000 }),
  );
  assert.equal(onVmImage.state?.status, 'AVAILABLE', onVmImage.state?.reason);

  // `kiln instances launch` boots a machine image for a person: listed, entered through the guest agent, its
  // console readable, and stopped by `kiln instances rm`.
  const launched = await timed('kiln instances launch', () => kilnCli(['instances', 'launch', ami.image!, '--detach']));
  assert.equal(launched.code, 0, launched.stderr);
  const instanceId = launched.stdout.trim();
  assert.match(instanceId, /^vm:launch-[0-9a-f]+$/);
  const listed = await kilnCli(['instances', 'ls', '--json']);
  assert.ok((JSON.parse(listed.stdout) as { instanceId: string; stage: string }[]).some((i) => i.instanceId === instanceId && i.stage === 'LAUNCHED'), listed.stdout);
  const shell = await kilnCli(['instances', 'shell', instanceId, '--', 'sh', '-c', 'for i in $(seq 1 60); do systemctl is-active --quiet kiln-hello && break; sleep 1; done; systemctl is-active kiln-hello; cat /etc/hostname']);
  assert.equal(shell.code, 0, shell.stderr);
  assert.match(shell.stdout, /^active\nkiln-[0-9a-f]{8}\n$/, 'the service runs and the first-boot hook named the machine');
  const failing = await kilnCli(['instances', 'shell', instanceId, '--', 'false']);
  assert.equal(failing.code, 1, 'the exit status comes back');
  const consoleText = await kilnCli(['instances', 'console', instanceId]);
  assert.match(consoleText.stdout, /Linux version|systemd/);
  const removed = await kilnCli(['instances', 'rm', instanceId]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(JSON.parse((await kilnCli(['instances', 'ls', '--json'])).stdout), []);
  assert.deepEqual(qemuPids(kiln.dataDir), [], 'rm stopped QEMU');

  // CancelImageCreation while the test VM boots: the image ends CANCELLED and QEMU is gone at once.
  const quick = (await client.send(new CreateComponentCommand({ name: 'quick', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['true'], test: ['true'] }) }))).componentBuildVersionArn!;
  const quickRecipe = await client.send(new CreateImageRecipeCommand({ name: 'cancel-me', semanticVersion: '1.0.0', parentImage: BASE, components: [{ componentArn: quick }] }));
  const toCancel = (await client.send(new CreateImageCommand({ imageRecipeArn: quickRecipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }))).imageBuildVersionArn!;
  await waitForImage(client, toCancel, { until: (i) => i.state?.status === 'TESTING', timeoutMs: 600_000 });
  await sleep(3000);
  assert.ok(qemuPids(kiln.dataDir).length > 0, 'the test VM is booting');
  await client.send(new CancelImageCreationCommand({ imageBuildVersionArn: toCancel }));
  const cancelled = await waitForImage(client, toCancel, { timeoutMs: 60_000 });
  assert.equal(cancelled.state?.status, 'CANCELLED');
  for (let i = 0; i < 50 && qemuPids(kiln.dataDir).length > 0; i++) await sleep(100);
  assert.deepEqual(qemuPids(kiln.dataDir), [], 'the cancel stopped QEMU');

  // A component that breaks the boot (a corrupt initrd) passes the build and fails the test stage; the reason
  // carries the serial console's last lines.
  const breaker = (await client.send(new CreateComponentCommand({ name: 'break-boot', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['for f in /boot/initrd.img-*; do head -c 4096 /dev/urandom > "$f"; done'] }) }))).componentBuildVersionArn!;
  const brokenRecipe = await client.send(new CreateImageRecipeCommand({ name: 'broken-boot', semanticVersion: '1.0.0', parentImage: BASE, components: [{ componentArn: breaker }] }));
  const broken = await timed('broken boot', async () =>
    waitForImage(client, (await client.send(new CreateImageCommand({ imageRecipeArn: brokenRecipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }))).imageBuildVersionArn!, { timeoutMs: 20 * 60_000 }),
  );
  assert.equal(broken.state?.status, 'FAILED');
  assert.match(broken.state?.reason ?? '', /LaunchTestInstance/);
  assert.match(broken.state?.reason ?? '', /did not boot/);
  assert.match(broken.state?.reason ?? '', /last console lines/);

  // The step cache (kiln:cache) on an ns machine build, tests off: the rebuild runs no component and reuses the
  // assembled disk; a changed second component runs alone.
  const marker = (n: string) => bashComponent({ build: [`echo ${n} > /etc/kiln-marker-${n}`] });
  const first = (await client.send(new CreateComponentCommand({ name: 'marker-one', semanticVersion: '1.0.0', platform: 'Linux', data: marker('one') }))).componentBuildVersionArn!;
  const second = (await client.send(new CreateComponentCommand({ name: 'marker-two', semanticVersion: '1.0.0', platform: 'Linux', data: marker('two') }))).componentBuildVersionArn!;
  const cachedRecipe = await client.send(new CreateImageRecipeCommand({ name: 'cached-machine', semanticVersion: '1.0.0', parentImage: BASE, components: [{ componentArn: first }, { componentArn: second }], tags: { 'kiln:cache': 'true' } }));
  const cachedBuild = async (recipeArn: string) => {
    const arn = (await client.send(new CreateImageCommand({ imageRecipeArn: recipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, imageTestsConfiguration: { imageTestsEnabled: false } }))).imageBuildVersionArn!;
    const done = await waitForImage(client, arn, { timeoutMs: 10 * 60_000 });
    assert.equal(done.state?.status, 'AVAILABLE', done.state?.reason);
    const wf = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions!.find((w) => w.type === 'BUILD')!;
    const steps = (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: wf.workflowExecutionId }))).steps ?? [];
    const apply = await client.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: steps.find((s) => s.name === 'ApplyBuildComponents')!.stepExecutionId }));
    const outputs = JSON.parse(apply.outputs ?? '{}') as { cachedComponents?: number; ranComponents?: number };
    const create = await client.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: steps.find((s) => s.name === 'CreateOutputImage')!.stepExecutionId }));
    return { counts: [outputs.cachedComponents, outputs.ranComponents], disk: (JSON.parse(create.outputs ?? '{}') as { imageId?: string }).imageId };
  };
  const coldCache = await timed('ns build, step cache cold', () => cachedBuild(cachedRecipe.imageRecipeArn!));
  assert.deepEqual(coldCache.counts, [0, 2]);
  const warmCache = await timed('ns build, step cache warm', () => cachedBuild(cachedRecipe.imageRecipeArn!));
  assert.deepEqual(warmCache.counts, [2, 0]);
  assert.equal(warmCache.disk, coldCache.disk, 'the same layers give the same disk, reused');
  const secondV2 = (await client.send(new CreateComponentCommand({ name: 'marker-two', semanticVersion: '1.0.1', platform: 'Linux', data: marker('three') }))).componentBuildVersionArn!;
  const changedRecipe = await client.send(new CreateImageRecipeCommand({ name: 'cached-machine', semanticVersion: '1.0.1', parentImage: BASE, components: [{ componentArn: first }, { componentArn: secondV2 }], tags: { 'kiln:cache': 'true' } }));
  const changedCache = await timed('ns build, step cache, last changed', () => cachedBuild(changedRecipe.imageRecipeArn!));
  assert.deepEqual(changedCache.counts, [1, 1]);
  assert.notEqual(changedCache.disk, coldCache.disk);

  t.diagnostic(`timings ms: ${JSON.stringify(timings)}`);
  assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  assert.deepEqual(qemuPids(kiln.dataDir), []);
  assert.deepEqual(readdirSync(path.join(kiln.dataDir, 'work')), []);
  assert.ok(!(await run('losetup', ['-a'])).includes(kiln.dataDir), 'no loop device is left on a disk of the data dir');
});
