import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dpkgPackages, osRelease } from './package-inventory.js';

test('dpkg status: installed packages only, with their source package and its version', () => {
  const status = [
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n',
    'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\nSource: bash (5.2.15-2)\n',
    'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n',
    'Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n',
  ].join('\n');
  assert.deepEqual(dpkgPackages(status), [
    { manager: 'dpkg', name: 'bash', version: '5.2.15-2+b7', architecture: 'amd64', source: 'bash', sourceVersion: '5.2.15-2' },
    { manager: 'dpkg', name: 'libc6', version: '2.36-9+deb12u4', architecture: 'amd64', source: 'glibc', sourceVersion: '2.36-9+deb12u4' },
    { manager: 'dpkg', name: 'tzdata', version: '2024a-0+deb12u1', architecture: 'all', source: 'tzdata', sourceVersion: '2024a-0+deb12u1' },
  ]);
});

test('os-release: quoted and bare values; none without ID', () => {
  assert.deepEqual(osRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'), {
    id: 'debian',
    versionId: '12',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
  });
  assert.equal(osRelease('NAME=x\n'), undefined);
});
