import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectWorkflowDocument, type WorkflowType } from './workflow-document.js';

/** AWS's build-image workflow, as reconstructed in the reference (section 5.2). */
const BUILD_IMAGE = `name: build-image
description: Workflow to build an AMI
schemaVersion: 1.0
parameters:
  - name: waitForActionAtEnd
    type: boolean
    default: false
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    onFailure: Abort
    inputs:
      waitFor: "ssmAgent"
  - name: ApplyBuildComponents
    action: ExecuteComponents
    onFailure: Abort
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: InventoryCollection
    action: CollectImageMetadata
    onFailure: Abort
    if:
      and:
        - stringEquals: "AMI"
          value: "$.imagebuilder.imageType"
        - booleanEquals: true
          value: "$.imagebuilder.collectImageMetadata"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: CreateOutputAMI
    action: CreateImage
    onFailure: Abort
    timeoutSeconds: 3600
    if:
      stringEquals: "AMI"
      value: "$.imagebuilder.imageType"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: WaitAtEnd
    action: WaitForAction
    if:
      booleanEquals: true
      value: "$.parameters.waitForActionAtEnd"
  - name: TerminateBuildInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
outputs:
  - name: "ImageId"
    value: "$.stepOutputs.CreateOutputAMI.imageId"
`;

test('a valid build workflow yields its parameters', () => {
  const { issues, parameters } = inspectWorkflowDocument(BUILD_IMAGE, 'BUILD');
  assert.deepEqual(issues, []);
  assert.deepEqual(parameters, [{ name: 'waitForActionAtEnd', type: 'boolean', defaultValue: ['false'] }]);
});

test('documents with problems report each with its path', () => {
  const step = (extra: string) => `schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n${extra}`;
  const cases: [string, WorkflowType, [string, RegExp][]][] = [
    ['steps: []', 'BUILD', [['schemaVersion', /required/], ['steps', /non-empty list/]]],
    ['schemaVersion: 2.0\nsteps:\n  - name: A1b\n    action: CreateImage', 'BUILD', [['schemaVersion', /must be 1.0/]]],
    ['schemaVersion: 1.0\nfoo: 1\nsteps:\n  - name: A1b\n    action: CreateImage', 'BUILD', [['foo', /not a workflow document key/]]],
    ['schemaVersion: 1.0\nsteps:\n  - name: ab\n    action: Nope\n    color: red', 'BUILD', [['steps[0].color', /not a step key/], ['steps[0].name', /3-128/], ['steps[0].action', /"Nope" is not a workflow step action/]]],
    ['schemaVersion: 1.0\nsteps:\n  - name: Dist\n    action: DistributeImage', 'BUILD', [['steps[0].action', /DistributeImage cannot run in a BUILD workflow/]]],
    ['schemaVersion: 1.0\nsteps:\n  - name: Run\n    action: ExecuteComponents', 'DISTRIBUTION', [['steps[0].action', /cannot run in a DISTRIBUTION workflow/]]],
    ['schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance', 'TEST', [['steps[0].inputs.waitFor', /required by LaunchInstance/]]],
    [step('    timeoutSeconds: 50000\n    onFailure: Retry\n    rollbackEnabled: maybe'), 'BUILD', [['steps[0].onFailure', /Abort or Continue/], ['steps[0].rollbackEnabled', /boolean or a JSONPath/], ['steps[0].timeoutSeconds', /1 to 43200 \(the maximum for LaunchInstance\)/]]],
    [step('    if:\n      stringEquals: AMI\n      numberEquals: 2\n      value: x'), 'BUILD', [['steps[0].if', /exactly one operator/]]],
    [step('    if:\n      and:\n        - stringEquals: 1\n          value: "$.imagebuilder.imageType"\n        - booleanEquals: true'), 'BUILD', [['steps[0].if.and[0].stringEquals', /must be a string/], ['steps[0].if.and[1]', /needs a 'value'/]]],
    [step('  - name: Launch\n    action: TerminateInstance\n    inputs:\n      instanceId.$: "$.stepOutputs.Later.instanceId"\n      x: "{{ $.parameters.missing }} {{ $.imagebuilder.nope }}"\n  - name: Later\n    action: TerminateInstance'), 'BUILD', [
      ['steps[1].name', /"Launch" is used by an earlier step/],
      ['steps[1].inputs.instanceId.$', /step "Later", which is not an earlier step/],
      ['steps[1].inputs.x', /parameter "missing", which is not declared/],
      ['steps[1].inputs.x', /"\$\.imagebuilder\.nope", which is not a system variable/],
    ]],
    ['schemaVersion: 1.0\nparameters:\n  - name: p\n    type: integer\n    default: "x"\n  - name: p\n    type: float\nsteps:\n  - name: Launch\n    action: WaitForAction', 'TEST', [['parameters[0].default', /does not match type integer/], ['parameters[1].name', /declared twice/], ['parameters[1].type', /string, integer, boolean or stringList/]]],
    [`schemaVersion: 1.0\nsteps:\n${Array.from({ length: 16 }, (_, i) => `  - name: Wait${i}\n    action: WaitForAction\n`).join('')}`, 'BUILD', [['steps', /16 steps; the limit is 15/]]],
    ['schemaVersion: 1.0\nsteps: [\n', 'BUILD', [['', /not valid YAML/]]],
    ['- just a list', 'BUILD', [['', /must be a YAML or JSON mapping/]]],
  ];
  for (const [text, type, want] of cases) {
    const { issues } = inspectWorkflowDocument(text, type);
    assert.equal(issues.length, want.length, `${text}\n${JSON.stringify(issues, null, 1)}`);
    want.forEach(([path, re], i) => {
      assert.equal(issues[i]!.path, path, text);
      assert.match(issues[i]!.message, re, text);
    });
  }
});
