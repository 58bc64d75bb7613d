import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeContext, runAction, validateInputs } from '../../../test/helpers/action-context.js';
import { coerceInputs } from './fields.js';
import { ActionFailure, type ActionModule } from './types.js';
import { executePowerShell, installMsi, setRegistry, uninstallMsi } from './windows-only.js';

const paths = (module: ActionModule, inputs: unknown) => validateInputs(module, inputs).map((i) => i.path);

describe('Windows-only modules on Linux', () => {
  const cases: [ActionModule, unknown][] = [
    [executePowerShell, { commands: ['Write-Host "hi"'] }],
    [executePowerShell, { file: 'C:\\temp\\HelloWorld.ps1' }],
    [installMsi, { path: 'C:\\sample.msi' }],
    [uninstallMsi, { path: 'https://example.invalid/sample.msi', reboot: 'Skip' }],
    [setRegistry, [{ path: 'HKLM:\\SOFTWARE\\Kiln', name: 'Version', value: 1, type: 'DWORD' }]],
  ];
  for (const [module, inputs] of cases) {
    test(`${module.name} fails with a clear message (${JSON.stringify(inputs)})`, async () => {
      assert.deepEqual(module.platforms, ['windows']);
      await assert.rejects(
        runAction(module, inputs, makeContext('/tmp')),
        (err: Error) => err instanceof ActionFailure && err.message === `${module.name} is not supported on Linux`,
      );
    });
  }

  test('bad inputs are reported before the platform', async () => {
    await assert.rejects(runAction(executePowerShell, { commands: ['x'], file: 'a.ps1' }, makeContext('/tmp')), /not both/);
  });
});

describe('ExecutePowerShell validation', () => {
  test('commands xor file', () => {
    assert.deepEqual(paths(executePowerShell, { commands: ['Get-Date', 'exit 3010'] }), []);
    assert.deepEqual(paths(executePowerShell, { file: '{{build.DownloadConfigScript.inputs[0].destination}}' }), []);
    assert.deepEqual(paths(executePowerShell, { commands: ['a'], file: 'C:\\x.ps1' }), ['inputs']);
    assert.deepEqual(paths(executePowerShell, {}), ['inputs']);
    assert.deepEqual(paths(executePowerShell, undefined), ['inputs']);
  });

  test('field checks', () => {
    assert.deepEqual(paths(executePowerShell, { file: 'C:\\x.bat' }), ['inputs.file']);
    assert.deepEqual(paths(executePowerShell, { commands: 'Get-Date' }), ['inputs.commands']);
    assert.deepEqual(paths(executePowerShell, { commands: [] }), ['inputs.commands']);
    assert.deepEqual(paths(executePowerShell, { commands: ['x'], shell: 'pwsh' }), ['inputs.shell']);
  });
});

describe('InstallMSI / UninstallMSI validation', () => {
  for (const module of [installMsi, uninstallMsi]) {
    test(`${module.name}: documented inputs pass and defaults are filled`, () => {
      assert.deepEqual(
        paths(module, {
          path: 's3://<bucket-name>/sample.msi',
          logFile: 's3-path-install.log',
          logOptions: '*VX',
          reboot: 'Force',
          properties: { COMPANYNAME: '"Amazon Web Services"', LICENSE_KEY: '{{ Key }}' },
          ignoreAuthenticodeSignatureErrors: false,
          allowUnsignedInstaller: true,
        }),
        [],
      );
      assert.deepEqual(coerceInputs(module, { path: 'C:\\a.msi', reboot: 'skip' }, 'inputs'), {
        path: 'C:\\a.msi',
        reboot: 'Skip',
        logOptions: '*VX',
        ignoreAuthenticodeSignatureErrors: false,
        allowUnsignedInstaller: false,
      });
    });

    test(`${module.name}: bad fields are reported by path`, () => {
      assert.deepEqual(paths(module, { reboot: 'Allow' }), ['inputs.path']);
      assert.deepEqual(paths(module, { path: 'a.msi', reboot: 'Sometimes' }), ['inputs.reboot']);
      assert.deepEqual(paths(module, { path: 'a.msi', logOptions: 'q' }), ['inputs.logOptions']);
      assert.deepEqual(paths(module, { path: 'a.msi', properties: ['A=1'] }), ['inputs.properties']);
      assert.deepEqual(paths(module, { path: 'a.msi', properties: { REBOOT: 'ReallySuppress' } }), ['inputs.properties']);
      assert.deepEqual(paths(module, { path: 'a.msi', properties: { 'BAD NAME': 'x' } }), ['inputs.properties']);
      assert.deepEqual(paths(module, { path: 's3://bucket-only' }), ['inputs.path']);
      assert.deepEqual(paths(module, { path: 'a.msi', allowUnsignedInstaller: 'yes' }), ['inputs.allowUnsignedInstaller']);
      assert.deepEqual(paths(module, [{ path: 'a.msi' }]), ['inputs']);
    });
  }
});

describe('SetRegistry validation', () => {
  test('documented inputs pass, including list values', () => {
    assert.deepEqual(
      paths(setRegistry, [
        { path: 'HKLM:\\SOFTWARE\\MySoftWare', name: 'MyName', value: 'FirstVersionSoftware', type: 'SZ' },
        { path: 'HKEY_CURRENT_USER\\Software\\Test', name: 'Version', value: 1.1, type: 'DWORD' },
        { path: 'HKCU:\\Software\\Test', name: 'Lines', value: ['a', 'b'], type: 'multi_sz' },
      ]),
      [],
    );
  });

  test('bad fields are reported by path', () => {
    assert.deepEqual(paths(setRegistry, [{ path: 'C:\\Windows', name: 'n', value: 'v', type: 'SZ' }]), ['inputs[0].path']);
    assert.deepEqual(paths(setRegistry, [{ path: 'HKLM:\\X', value: 'v', type: 'SZ' }]), ['inputs[0].name']);
    assert.deepEqual(paths(setRegistry, [{ path: 'HKLM:\\X', name: 'n', type: 'SZ' }]), ['inputs[0].value']);
    assert.deepEqual(paths(setRegistry, [{ path: 'HKLM:\\X', name: 'n', value: { a: 1 }, type: 'SZ' }]), ['inputs[0].value']);
    assert.deepEqual(paths(setRegistry, [{ path: 'HKLM:\\X', name: 'n', value: 'v', type: 'STRING' }]), ['inputs[0].type']);
    assert.deepEqual(paths(setRegistry, { path: 'HKLM:\\X', name: 'n', value: 'v', type: 'SZ' }), ['inputs']);
  });
});
