/**
 * The Amazon-managed components Kiln provides (owner `aws`, build 1 of their version, in every region): the one
 * source of their names, versions and documents. They carry AWS's names and follow AWS's documented behaviour
 * and parameters, with documents written for Kiln's managed bases (Debian 12, container and machine): apt, not
 * yum or dnf. Every one listed here runs on both managed bases; a component Kiln cannot honour there is left
 * out rather than listed and failing. `chrony-time-configuration-test` checks chrony as AWS's does: it passes
 * once the image has chrony, which the bases do not ship (see its document's comment).
 *
 * Left out on purpose: `update-windows` and the other Windows components (Kiln builds no Windows images),
 * `amazon-cloudwatch-agent-linux`, `aws-codedeploy-agent-linux`, `amazon-corretto-*` and the like (they install
 * AWS services' agents from AWS-hosted packages, which Debian does not package), and the STIG / CIS hardening
 * components (AWS's are written against Amazon Linux and RHEL benchmarks; a Debian port is its own work).
 */
import { formatArn } from './arn.js';

/** The owner of AWS-managed resources in their ARNs (store/visibility.ts's KILN_MANAGED_OWNER, one layer up). */
const OWNER = 'aws';
/** Every managed component is build 1 of its version: Kiln publishes a new version rather than a new build. */
export const MANAGED_COMPONENT_BUILD = 1;

/** One managed component. Its type (BUILD or TEST) and parameters are read from the document when registered. */
export interface ManagedComponent {
  /** `update-linux`, ...; also its name slug. */
  name: string;
  /** Semantic version, `major.minor.patch`. */
  version: string;
  description: string;
  platform: 'Linux';
  supportedOsVersions: readonly string[];
  /** The AWSTOE document (YAML, schemaVersion 1.0) GetComponent answers as `data` and builds run. */
  data: string;
}

/** The OS of Kiln's managed bases, as their images' osVersion says it. */
const DEBIAN_12 = ['Debian 12'];

/** apt without questions: keep changed configuration files, never wait on a prompt. */
const APT_GET = 'DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** A step's bash commands as a YAML block scalar, indented for a step's `commands:` list. */
function script(lines: string): string {
  const body = lines.trim().split('\n').map((l) => (l === '' ? '' : `              ${l}`));
  return `            - |\n${body.join('\n')}`;
}

function bashStep(name: string, lines: string, extra = ''): string {
  return `      - name: ${name}
        action: ExecuteBash${extra}
        inputs:
          commands:
${script(lines)}
`;
}

/**
 * Installs Debian packages: refreshes the package lists first (a base may have none), installs without the
 * recommended extras, and leaves the lists in place for the components after it.
 */
function installStep(name: string, packages: readonly string[]): string {
  return bashStep(name, `set -euo pipefail
apt-get update
${APT_GET} install --no-install-recommends ${packages.join(' ')}`);
}

/**
 * update-linux: AWS's updates every installed package, security updates included, with `include` and `exclude`
 * lists of packages. Their values are space-separated package names (AWSTOE parameters are strings); they are
 * read through a quoted here-document so that no value can break out of the script, then checked as names.
 * `upgrade --with-new-pkgs` takes a new kernel ABI package as Amazon Linux's `yum update` does, without the
 * removals of `dist-upgrade`.
 */
const UPDATE_LINUX = `name: update-linux
description: Updates the installed Debian packages to the latest versions apt offers, security updates included.
schemaVersion: 1.0
parameters:
  - include:
      type: string
      default: ''
      description: Space-separated packages to update, and only those; empty updates every installed package.
  - exclude:
      type: string
      default: ''
      description: Space-separated packages to keep at their installed version, also when include names them.
phases:
  - name: build
    steps:
${bashStep('UpdatePackages', `set -euo pipefail
include=$(cat <<'KILN_PACKAGES'
{{ include }}
KILN_PACKAGES
)
exclude=$(cat <<'KILN_PACKAGES'
{{ exclude }}
KILN_PACKAGES
)
for name in $include $exclude; do
  if ! [[ "$name" =~ ^[a-z0-9][a-z0-9.+-]+(:[a-z0-9]+)?$ ]]; then echo "update-linux: '$name' is not a Debian package name" >&2; exit 1; fi
done
apt-get update
if [ -n "$(echo $include)" ]; then
  selected=()
  for name in $include; do
    case " $(echo $exclude) " in *" $name "*) echo "update-linux: $name is also excluded; leaving it alone" ;; *) selected+=("$name") ;; esac
  done
  if [ \${#selected[@]} -eq 0 ]; then echo 'update-linux: nothing to update'; exit 0; fi
  echo "update-linux: updating \${selected[*]}"
  ${APT_GET} install --only-upgrade "\${selected[@]}"
  exit 0
fi
# apt-get has no --exclude: hold the excluded packages that are installed and not held yet, for this run only.
held=()
for name in $exclude; do
  if dpkg-query -W -f='\${db:Status-Abbrev}' "$name" 2>/dev/null | grep -q '^.i' && ! apt-mark showhold | grep -qx "$name"; then held+=("$name"); fi
done
release() { if [ \${#held[@]} -gt 0 ]; then apt-mark unhold "\${held[@]}"; fi; }
trap release EXIT
if [ \${#held[@]} -gt 0 ]; then apt-mark hold "\${held[@]}"; fi
echo "update-linux: updating all packages\${exclude:+ except $(echo $exclude)}"
${APT_GET} upgrade --with-new-pkgs`)}  - name: validate
    steps:
${bashStep('ValidatePackages', `set -euo pipefail
# A package left half-installed or unconfigured by the update fails the build here.
problems=$(dpkg --audit)
if [ -n "$problems" ]; then echo "$problems" >&2; exit 1; fi
echo 'update-linux: every package is installed and configured'`)}`;

/** reboot-linux: AWS's reboots the instance, so that what the components before it installed (a kernel) is in use. */
const REBOOT_LINUX = `name: reboot-linux
description: Reboots the build instance.
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Reboot
        action: Reboot
        inputs:
          delaySeconds: 0
`;

/** hello-world-linux: AWS's prints a greeting in each phase; the smallest component to try a pipeline with. */
const HELLO_WORLD_LINUX = `name: hello-world-linux
description: Prints a greeting in the build, validate and test phases.
schemaVersion: 1.0
phases:
  - name: build
    steps:
${bashStep('HelloWorldBuild', "echo 'Hello World! Build phase.'")}  - name: validate
    steps:
${bashStep('HelloWorldValidate', "echo 'Hello World! Validate phase.'")}  - name: test
    steps:
${bashStep('HelloWorldTest', "echo 'Hello World! Test phase.'")}`;

const PYTHON_3_LINUX = `name: python-3-linux
description: Installs Python 3 with pip and venv from Debian's packages.
schemaVersion: 1.0
phases:
  - name: build
    steps:
${installStep('InstallPython3', ['python3', 'python3-pip', 'python3-venv'])}  - name: validate
    steps:
${bashStep('ValidatePython3', `set -euo pipefail
python3 --version
python3 -m pip --version`)}  - name: test
    steps:
${bashStep('TestPython3', `set -euo pipefail
python3 -c 'import json, ssl, venv; print("python-3-linux: python", __import__("sys").version.split()[0], "works")'`)}`;

/** aws-cli-version-2-linux: Debian 12 packages version 2 of the AWS CLI as `awscli`. */
const AWS_CLI_V2_LINUX = `name: aws-cli-version-2-linux
description: Installs version 2 of the AWS CLI from Debian's awscli package.
schemaVersion: 1.0
phases:
  - name: build
    steps:
${installStep('InstallAwsCli', ['awscli'])}  - name: validate
    steps:
${bashStep('ValidateAwsCli', `set -euo pipefail
version=$(aws --version 2>&1)
echo "$version"
case "$version" in aws-cli/2.*) ;; *) echo 'aws-cli-version-2-linux: aws is not version 2' >&2; exit 1 ;; esac`)}  - name: test
    steps:
${bashStep('TestAwsCli', `set -euo pipefail
aws --version
aws help >/dev/null 2>&1 || aws --help >/dev/null`)}`;

/**
 * simple-boot-test-linux: AWS's checks that an instance of the image booted and is usable. Off systemd (a
 * container) there is no boot to judge, so only the file system and the OS release are checked.
 */
const SIMPLE_BOOT_TEST_LINUX = `name: simple-boot-test-linux
description: Checks that an instance of the image came up usable - the OS identifies itself, the root file system is writable, and, under systemd, the boot finished without failed units.
schemaVersion: 1.0
phases:
  - name: test
    steps:
${bashStep('CheckBoot', `set -euo pipefail
. /etc/os-release
echo "simple-boot-test-linux: $PRETTY_NAME, kernel $(uname -r)"
probe=$(mktemp /var/tmp/simple-boot-test.XXXXXX)
rm -f "$probe"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  state=$(timeout 300 systemctl is-system-running --wait 2>/dev/null || true)
  echo "simple-boot-test-linux: systemd says the system is $state"
  if [ "$state" != running ]; then systemctl --failed --no-pager >&2 || true; exit 1; fi
else
  echo 'simple-boot-test-linux: no systemd on this instance (a container); nothing booted to check'
fi`)}`;

/**
 * reboot-test-linux: AWS's reboots the test instance and checks it comes back with what was written before.
 * An instance that cannot reboot (a container) has the reboot simulated by the runner; the boot ids say which.
 */
const REBOOT_TEST_LINUX = `name: reboot-test-linux
description: Reboots the test instance and checks that it comes back and that a file written before the reboot survived it.
schemaVersion: 1.0
phases:
  - name: test
    steps:
${bashStep('WriteMarker', `set -euo pipefail
mkdir -p /var/lib/reboot-test-linux
cat /proc/sys/kernel/random/boot_id > /var/lib/reboot-test-linux/before
echo "reboot-test-linux: boot $(cat /var/lib/reboot-test-linux/before) before the reboot"`)}      - name: Reboot
        action: Reboot
        inputs:
          delaySeconds: 0
${bashStep('CheckMarker', `set -euo pipefail
if [ ! -s /var/lib/reboot-test-linux/before ]; then echo 'reboot-test-linux: the file written before the reboot is gone' >&2; exit 1; fi
before=$(cat /var/lib/reboot-test-linux/before)
after=$(cat /proc/sys/kernel/random/boot_id)
rm -rf /var/lib/reboot-test-linux
if [ "$before" = "$after" ]; then echo "reboot-test-linux: boot $after again (the reboot was simulated)"; else echo "reboot-test-linux: rebooted from boot $before into boot $after"; fi`)}`;

/**
 * chrony-time-configuration-test: AWS's checks that chrony is installed and configured with a time source (on
 * AWS, the Amazon Time Sync Service; off AWS there is no such link-local server, so any source counts). Kiln's
 * bases ship no time service: this test passes once a component installs chrony (for example
 * `apt-get install chrony`), as on AWS it passes on the Amazon Linux images that ship it.
 */
const CHRONY_TEST = `name: chrony-time-configuration-test
description: Checks that chrony is installed, that its configuration parses, and that it names at least one time source.
schemaVersion: 1.0
phases:
  - name: test
    steps:
${bashStep('CheckChrony', `set -euo pipefail
if ! command -v chronyd >/dev/null; then echo 'chrony-time-configuration-test: chrony is not installed (install it with a build component: apt-get install chrony)' >&2; exit 1; fi
chronyd --version
# chronyd -p prints the configuration as chronyd reads it (sourcedir and confdir included), or fails on an error.
config=$(chronyd -p)
sources=$(echo "$config" | grep -E '^(server|pool|peer|refclock|sourcedir) ' || true)
if [ -z "$sources" ]; then echo 'chrony-time-configuration-test: the configuration names no time source' >&2; exit 1; fi
echo "chrony-time-configuration-test: time sources:"
echo "$sources"`)}`;

/**
 * docker-ce-linux: AWS's installs Docker CE from Docker's repository. Kiln installs Debian's build of the same
 * engine (`docker.io`), which needs no third-party apt source and key; on a machine image it starts at boot.
 */
const DOCKER_CE_LINUX = `name: docker-ce-linux
description: Installs the Docker engine and CLI from Debian's docker.io package; on a machine image the docker service is enabled.
schemaVersion: 1.0
phases:
  - name: build
    steps:
${installStep('InstallDocker', ['docker.io'])}  - name: validate
    steps:
${bashStep('ValidateDocker', `set -euo pipefail
docker --version
dockerd --version`)}  - name: test
    steps:
${bashStep('TestDocker', `set -euo pipefail
docker --version
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl is-enabled docker.service
  # The engine may still be starting when the test begins.
  for i in $(seq 1 120); do docker version >/dev/null 2>&1 && break; sleep 1; done
  docker version
else
  echo 'docker-ce-linux: no systemd on this instance (a container); the engine is installed, not started'
fi`)}`;

/** The managed components, in the order ListComponents' Amazon view sorts them (by name). */
export const MANAGED_COMPONENTS: readonly ManagedComponent[] = [
  { name: 'aws-cli-version-2-linux', version: '1.0.4', description: 'Installs version 2 of the AWS CLI (Debian package awscli).', data: AWS_CLI_V2_LINUX },
  { name: 'chrony-time-configuration-test', version: '1.0.0', description: 'Tests that chrony is installed and configured with a time source.', data: CHRONY_TEST },
  { name: 'docker-ce-linux', version: '1.0.0', description: "Installs the Docker engine (Debian package docker.io).", data: DOCKER_CE_LINUX },
  { name: 'hello-world-linux', version: '1.0.0', description: 'Prints a greeting in each phase.', data: HELLO_WORLD_LINUX },
  { name: 'python-3-linux', version: '1.0.2', description: 'Installs Python 3 with pip and venv.', data: PYTHON_3_LINUX },
  { name: 'reboot-linux', version: '1.0.1', description: 'Reboots the build instance.', data: REBOOT_LINUX },
  { name: 'reboot-test-linux', version: '1.0.0', description: 'Tests that the instance reboots and keeps its files.', data: REBOOT_TEST_LINUX },
  { name: 'simple-boot-test-linux', version: '1.0.0', description: 'Tests that an instance of the image came up usable.', data: SIMPLE_BOOT_TEST_LINUX },
  { name: 'update-linux', version: '1.0.2', description: 'Updates the installed packages, security updates included.', data: UPDATE_LINUX },
].map((c) => ({ ...c, platform: 'Linux' as const, supportedOsVersions: DEBIAN_12 }));

/** The build version ARN of a managed component in `region`. */
export function managedComponentArn(region: string, component: Pick<ManagedComponent, 'name' | 'version'>): string {
  return formatArn({ partition: 'aws', region, owner: OWNER, resourceType: 'component', name: component.name, version: component.version, build: MANAGED_COMPONENT_BUILD });
}
