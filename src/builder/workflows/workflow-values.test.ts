import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKilnError } from '../../domain/errors.js';
import { bindParameters, evaluateCondition, interpolate, readPath, resolveInputs, type WorkflowScope } from './workflow-values.js';

const scope: WorkflowScope = {
  parameters: { count: 3, name: 'web', flags: ['a', 'b'], on: true },
  stepOutputs: { Launch: { instanceId: 'i-1', list: [{ id: 'x' }] } },
  imagebuilder: { imageType: 'Docker', collectImageMetadata: false },
  workflowOutputs: {},
};

function fails(path: string, fragment: RegExp) {
  return (err: unknown) => {
    assert.ok(isKilnError(err, 'InvalidArgument'), String(err));
    assert.equal(err.issues[0]?.path, path);
    assert.match(err.message, fragment);
    return true;
  };
}

test('JSONPath reads parameters, step outputs (with list indexes) and system variables; a missing part is named', () => {
  assert.equal(readPath(scope, '$.parameters.count', 'x'), 3);
  assert.equal(readPath(scope, '$.stepOutputs.Launch.instanceId', 'x'), 'i-1');
  assert.equal(readPath(scope, '$.stepOutputs.Launch.list[0].id', 'x'), 'x');
  assert.equal(readPath(scope, '$.imagebuilder.imageType', 'x'), 'Docker');
  assert.equal(readPath(scope, '$.imagebuilder.collectImageMetadata', 'x'), false);
  assert.throws(() => readPath(scope, '$.stepOutputs.Nope.instanceId', 'steps[2].inputs.instanceId.$'), fails('steps[2].inputs.instanceId.$', /\$\.stepOutputs\.Nope has no value/));
  assert.throws(() => readPath(scope, '$.somewhere.x', 'at'), fails('at', /is not a node/));
  assert.throws(() => readPath(scope, 'parameters.count', 'at'), fails('at', /is not a JSONPath/));
});

test('inputs: `.$` keys take the referenced value, strings interpolate {{ }}, nested values resolve', () => {
  const inputs = resolveInputs(
    { 'instanceId.$': '$.stepOutputs.Launch.instanceId', 'flags.$': '$.parameters.flags', note: 'on {{ $.stepOutputs.Launch.instanceId }} x{{$.parameters.count}}', nested: { list: ['{{ $.parameters.name }}', 4] } },
    scope,
    'steps[1].inputs',
  );
  assert.deepEqual(inputs, { instanceId: 'i-1', flags: ['a', 'b'], note: 'on i-1 x3', nested: { list: ['web', 4] } });
  assert.equal(interpolate('no references', scope, 'at'), 'no references');
  assert.throws(() => resolveInputs({ nested: { 'id.$': '$.stepOutputs.Launch.missing' } }, scope, 'steps[1].inputs'), fails('steps[1].inputs.nested.id.$', /Launch\.missing has no value/));
});

test('if: comparisons with values or JSONPaths on either side, and/or/not', () => {
  const eval_ = (c: unknown) => evaluateCondition(c, scope, 'steps[0].if');
  assert.equal(eval_({ stringEquals: 'Docker', value: '$.imagebuilder.imageType' }), true);
  assert.equal(eval_({ stringEquals: '$.imagebuilder.imageType', value: 'AMI' }), false);
  assert.equal(eval_({ booleanEquals: '$.parameters.on', value: true }), true);
  assert.equal(eval_({ booleanEquals: false, value: '$.imagebuilder.collectImageMetadata' }), true);
  assert.equal(eval_({ numberEquals: '$.parameters.count', value: 3 }), true);
  assert.equal(eval_({ numberGreaterThan: '$.parameters.count', value: 3 }), false);
  assert.equal(eval_({ numberGreaterThanEquals: '$.parameters.count', value: 3 }), true);
  assert.equal(eval_({ numberLessThan: 2, value: '$.parameters.count' }), true);
  assert.equal(eval_({ numberLessThanEquals: 4, value: '$.parameters.count' }), false);
  assert.equal(eval_({ and: [{ numberEquals: 3, value: '$.parameters.count' }, { not: { stringEquals: 'AMI', value: '$.imagebuilder.imageType' } }] }), true);
  assert.equal(eval_({ or: [{ stringEquals: 'x', value: 'y' }, { booleanEquals: true, value: false }] }), false);
  assert.throws(() => eval_({ and: [{ numberEquals: '$.parameters.name', value: 1 }] }), fails('steps[0].if.and[0].numberEquals', /"?web"? is not a number/));
});

test('parameters: typed from AWS string lists, defaults fill in, a required one without value and an undeclared one are named', () => {
  const declared = [
    { name: 'count', type: 'integer', default: 1 },
    { name: 'on', type: 'boolean', default: false },
    { name: 'names', type: 'stringList' },
    { name: 'who', type: 'string', default: 'me' },
  ];
  assert.deepEqual(bindParameters(declared, [{ name: 'count', value: ['5'] }, { name: 'on', value: ['true'] }, { name: 'names', value: ['a', 'b'] }], 'workflows[0].parameters'), { count: 5, on: true, names: ['a', 'b'], who: 'me' });
  assert.throws(() => bindParameters(declared, [], 'workflows[0].parameters'), fails('workflows[0].parameters', /"names" has no default/));
  assert.throws(() => bindParameters(declared, [{ name: 'names', value: [] }, { name: 'other', value: ['x'] }], 'workflows[1].parameters'), fails('workflows[1].parameters[1].name', /no parameter "other"/));
  assert.throws(() => bindParameters(declared, [{ name: 'names', value: [] }, { name: 'count', value: ['many'] }], 'p'), fails('p[1].value', /must be an integer/));
});
