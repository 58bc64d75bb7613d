import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rpmHeaderBlob } from '../../test/helpers/rpm-header.js';
import { apkPackages, dpkgPackages, osRelease, rpmPackages } from './package-inventory.js';

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

test('apk installed: name, version, architecture and origin; stanzas without P or V are skipped', () => {
  const installed = [
    'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:383152\no:musl\nF:lib\nR:libc.musl-x86_64.so.1\n',
    'C:Q1def=\nP:ssl_client\nV:1.36.1-r15\nA:x86_64\no:busybox\nt:1700000000\n',
    'P:broken\n',
  ].join('\n');
  assert.deepEqual(apkPackages(installed), [
    { manager: 'apk', name: 'musl', version: '1.2.4_git20230717-r4', architecture: 'x86_64', source: 'musl', sourceVersion: '1.2.4_git20230717-r4' },
    { manager: 'apk', name: 'ssl_client', version: '1.36.1-r15', architecture: 'x86_64', source: 'busybox', sourceVersion: '1.36.1-r15' },
  ]);
});

test('rpm headers: epoch:version-release, architecture, the source rpm; gpg-pubkey left out; a cut blob names blob', () => {
  const blobs = [
    rpmHeaderBlob({ name: 'openssl-libs', version: '3.0.7', release: '25.el9_3', epoch: 1, arch: 'x86_64', sourcerpm: 'openssl-3.0.7-25.el9_3.src.rpm' }),
    rpmHeaderBlob({ name: 'bash', version: '5.1.8', release: '9.el9', arch: 'x86_64', sourcerpm: 'bash-5.1.8-9.el9.src.rpm' }),
    rpmHeaderBlob({ name: 'gpg-pubkey', version: 'fd431d51', release: '4ae0493b' }),
    rpmHeaderBlob({ name: 'tzdata', version: '2024a', release: '1.el9', arch: 'noarch' }),
  ];
  assert.deepEqual(rpmPackages(blobs), [
    { manager: 'rpm', name: 'bash', version: '5.1.8-9.el9', architecture: 'x86_64', source: 'bash', sourceVersion: '5.1.8-9.el9' },
    { manager: 'rpm', name: 'openssl-libs', version: '1:3.0.7-25.el9_3', architecture: 'x86_64', source: 'openssl', sourceVersion: '1:3.0.7-25.el9_3' },
    { manager: 'rpm', name: 'tzdata', version: '2024a-1.el9', architecture: 'noarch', source: 'tzdata', sourceVersion: '2024a-1.el9' },
  ]);
  assert.throws(() => rpmPackages([blobs[0]!.subarray(0, 40)]), /^Error: blob: /);
});
