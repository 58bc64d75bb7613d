import assert from 'node:assert/strict';
import test from 'node:test';
import { actionModules } from '../actions/registry.js';
import { validateDocumentText } from './validate.js';

const modules = actionModules();

function issuesOf(text: string): string[] {
  return validateDocumentText(text, modules).issues.map((i) => `${i.path}: ${i.message}`);
}

function doc(steps: string, extra = ''): string {
  return `schemaVersion: 1.0\n${extra}phases:\n  - name: build\n    steps:\n${steps}`;
}

const bash = (name: string, cmd: string, more = '') =>
  `      - name: ${name}\n        action: ExecuteBash\n${more}        inputs:\n          commands:\n            - ${cmd}\n`;

test('a minimal document validates, with the schema version in any of its spellings', () => {
  for (const v of ['1.0', '1', '"1.0"', "'1'"]) {
    assert.deepEqual(issuesOf(doc(bash('A', 'true')).replace('1.0', v)), [], `schemaVersion ${v}`);
  }
});

test('schemaVersion, unknown keys and missing phases are reported with their paths', () => {
  assert.match(issuesOf('schemaVersion: 1.1\nphases: []\nextra: 1').join('\n'), /schemaVersion: unsupported schema version 1\.1/);
  const issues = issuesOf('schemaVersion: 1.1\nphases: []\nextra: 1');
  assert.ok(issues.some((i) => i.startsWith('extra: unknown key')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('phases: is required')), issues.join('\n'));
});

test('malformed YAML reports line and column', () => {
  const issues = issuesOf('schemaVersion: 1.0\nphases:\n  - name: build\n    steps: [\n');
  assert.equal(issues.length > 0, true);
  assert.match(issues[0]!, /^line \d+, column \d+: YAML syntax error/);
});

test('duplicate keys are rejected', () => {
  assert.match(issuesOf('schemaVersion: 1.0\nschemaVersion: 1.0\nphases: []').join('\n'), /YAML syntax error: Map keys must be unique/);
});

test('steps: unknown action, unknown keys, bad onFailure/timeout/maxAttempts, duplicate names', () => {
  const text = doc(
    `      - name: A\n        action: ExecuteBashh\n        inputs: {}\n` +
      bash('B', 'true', '        onFailure: Sometimes\n        timeoutSeconds: 0\n        maxAttempts: 0\n        retries: 3\n') +
      bash('B', 'true'),
  );
  const issues = issuesOf(text).join('\n');
  assert.match(issues, /phases\[0\]\.steps\[0\]\.action: unknown action module "ExecuteBashh"/);
  assert.match(issues, /phases\[0\]\.steps\[1\]\.onFailure: must be one of Abort, Continue, Ignore/);
  assert.match(issues, /phases\[0\]\.steps\[1\]\.timeoutSeconds: must be a positive integer or -1/);
  assert.match(issues, /phases\[0\]\.steps\[1\]\.maxAttempts: must be an integer of at least 1/);
  assert.match(issues, /phases\[0\]\.steps\[1\]\.retries: unknown key/);
  assert.match(issues, /phases\[0\]\.steps\[2\]\.name: step name "B" is used twice/);
});

test('inputs are checked against the module: missing, wrong type, unknown key', () => {
  const text = doc(
    `      - name: A\n        action: ExecuteBash\n        inputs:\n          commands: "echo not a list"\n          shell: sh\n` +
      `      - name: B\n        action: ExecuteBinary\n        inputs: {}\n` +
      `      - name: C\n        action: ExecuteBash\n`,
  );
  const issues = issuesOf(text).join('\n');
  assert.match(issues, /steps\[0\]\.inputs\.commands: must be a list of strings/);
  assert.match(issues, /steps\[0\]\.inputs\.shell: unknown input "shell"/);
  assert.match(issues, /steps\[1\]\.inputs\.path: is required/);
  assert.match(issues, /steps\[2\]\.inputs: action ExecuteBash has no inputs/);
});

test('parameters and constants: single-key maps, name rules, types, and no name defined twice', () => {
  const extra =
    'parameters:\n  - name: X\n    type: string\n  - ab:\n      type: string\n  - Good:\n      type: integer\n  - Dup:\n      type: string\n' +
    'constants:\n  - Dup:\n      type: string\n      value: x\n  - NoValue:\n      type: string\n';
  const issues = issuesOf(doc(bash('A', 'true'), extra)).join('\n');
  assert.match(issues, /parameters\[0\]: must be a map with exactly one key/);
  assert.match(issues, /parameters\[1\]\.ab: names are 3-128 characters/);
  assert.match(issues, /parameters\[2\]\.Good\.type: must be "string"/);
  assert.match(issues, /"Dup" is defined more than once/);
  assert.match(issues, /constants\[1\]\.NoValue\.value: is required/);
});

test('references: parameters, constants, loops and earlier steps are known; others are errors', () => {
  const extra = 'parameters:\n  - Param:\n      type: string\n      default: p\nconstants:\n  - Const:\n      type: string\n      value: c\n';
  const ok = doc(
    bash('A', '"echo {{ Param }} {{Const}} ${HOME} ${{ not a ref"') +
      bash('B', '"echo {{ build.A.outputs.stdout }} {{ build.A.inputs.commands }}"') +
      `      - name: C\n        action: ExecuteBash\n        loop:\n          name: L\n          forEach: [a, b]\n        inputs:\n          commands:\n            - "echo {{ L.value }} {{ loop.index }}"\n`,
    extra,
  );
  assert.deepEqual(issuesOf(ok), []);
  const bad = doc(
    bash('A', '"echo {{ Missing }} {{ build.Later.outputs.stdout }} {{ loop.value }} {{ .GoTemplate }}"') + bash('Later', 'true'),
    extra,
  );
  const issues = issuesOf(bad).join('\n');
  assert.match(issues, /unknown parameter or constant "Missing"/);
  assert.match(issues, /refers to step "Later" of phase "build", which does not run before this step/);
  assert.match(issues, /"\{\{ loop\.value \}\}" is used in step "A", which has no loop/);
  assert.match(issues, /"\{\{ \.GoTemplate \}\}" is not a valid reference/);
});

test('loops: exactly one form, integer ranges, no infinite loop, known delimiters', () => {
  const loop = (body: string) => doc(`      - name: A\n        action: ExecuteBash\n        loop:\n${body}        inputs:\n          commands: [true]\n`);
  assert.match(issuesOf(loop('          for: {start: 0, end: 10, updateBy: -1}\n')).join(), /infinite loop/);
  assert.match(issuesOf(loop('          for: {start: 0, end: 10, updateBy: 0}\n')).join(), /updateBy: must not be 0/);
  assert.match(issuesOf(loop('          forEach: [a]\n          for: {start: 0, end: 1, updateBy: 1}\n')).join(), /exactly one of "for" and "forEach"/);
  assert.match(issuesOf(loop('          forEach: {list: "a||b", delimiter: "||"}\n')).join(), /delimiter: must be one character/);
  assert.deepEqual(issuesOf(loop('          forEach: {list: "a;b", delimiter: ";"}\n')), []);
});

test('if: both shapes, then/else actions, nesting limit and unknown operators', () => {
  const withIf = (body: string) => doc(bash('A', 'true', `        if:\n${body}`));
  assert.deepEqual(issuesOf(withIf('          stringEquals: a\n          value: a\n')), []);
  assert.deepEqual(issuesOf(withIf('          and:\n            - binaryExists: bash\n            - not:\n                fileExists: /nope\n          then: Skip\n          else: Execute\n')), []);
  assert.deepEqual(issuesOf(withIf('          - stringEquals:\n              value: a\n              stringEquals: a\n              then: Execute\n              else: Abort\n')), []);
  assert.match(issuesOf(withIf('          stringEquals: a\n')).join(), /"stringEquals" needs a "value"/);
  assert.match(issuesOf(withIf('          stringEqualz: a\n          value: a\n')).join(), /unknown operator "stringEqualz"/);
  assert.match(issuesOf(withIf('          fileExists: /x\n          then: Maybe\n')).join(), /then: must be one of Abort, Execute, Skip/);
  const deep = '          not:\n            not:\n              not:\n                not:\n                  not:\n                    fileExists: /x\n';
  assert.match(issuesOf(withIf(deep)).join(), /nest deeper than 4 levels/);
});

test('Windows-only modules validate on any platform', () => {
  const text = doc(`      - name: P\n        action: ExecutePowerShell\n        inputs:\n          commands:\n            - Write-Host hi\n`);
  assert.deepEqual(issuesOf(text), []);
});

test('a huge document is refused or validated quickly, never hangs', () => {
  const steps = Array.from({ length: 5000 }, (_, i) => bash(`S${i}`, 'true')).join('');
  const t0 = Date.now();
  assert.deepEqual(issuesOf(doc(steps)), []);
  assert.ok(Date.now() - t0 < 10_000);
  const big = `schemaVersion: 1.0\ndescription: "${'x'.repeat(17 * 1024 * 1024)}"\nphases: []\n`;
  assert.match(issuesOf(big).join(), /larger than/);
});

test('alias bombs fail fast with a clear error', () => {
  const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
  const issues = issuesOf(bomb);
  assert.ok(issues.length > 0);
  assert.match(issues.join(), /alias|YAML/i);
});
