import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKilnError } from '../../domain/errors.js';
import { COMPONENTS_MARKER, quoteEnvValue, renderDockerfileTemplate, type RenderInput } from './dockerfile-render.js';

const DEFAULT = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n';
const PARENT = 'localhost:5000/debian@sha256:0123';

/** [description, input, expected Dockerfile, runsComponents]. */
const RENDERS: [string, Partial<RenderInput> & { template: string }, string, boolean][] = [
  ['the default template without environments', { template: DEFAULT }, `FROM ${PARENT}\n\n${COMPONENTS_MARKER}\n`, true],
  [
    'environments become one ENV line, quoted so Docker takes them literally',
    { template: DEFAULT, environments: [['A', '1'], ['B', 'two words $HOME "q" \\']] },
    `FROM ${PARENT}\nENV A="1" B="two words \\$HOME \\"q\\" \\\\"\n${COMPONENTS_MARKER}\n`,
    true,
  ],
  ['environments as a record', { template: DEFAULT, environments: { X: 'y' } }, `FROM ${PARENT}\nENV X="y"\n${COMPONENTS_MARKER}\n`, true],
  [
    'the escape directive changes the quoting character',
    { template: `# escape=\`\n${DEFAULT}`, environments: { P: 'C:\\x`' } },
    `# escape=\`\nFROM ${PARENT}\nENV P="C:\\x\`\`"\n${COMPONENTS_MARKER}\n`,
    true,
  ],
  ['spacing inside placeholders and CRLF', { template: 'FROM {{{imagebuilder:parentImage}}}\r\n  {{{  imagebuilder:components }}}  \r\n' }, `FROM ${PARENT}\n${COMPONENTS_MARKER}\n`, true],
  ['no components placeholder: nothing runs them', { template: 'FROM {{{ imagebuilder:parentImage }}}\nRUN true\n' }, `FROM ${PARENT}\nRUN true\n`, false],
  [
    'parentImage may appear elsewhere too, and other lines are untouched',
    { template: 'ARG X=1\nFROM {{{ imagebuilder:parentImage }}}\nLABEL base={{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\nCMD ["sh"]' },
    `ARG X=1\nFROM ${PARENT}\nLABEL base=${PARENT}\n${COMPONENTS_MARKER}\nCMD ["sh"]`,
    true,
  ],
];

for (const [name, input, expected, runs] of RENDERS) {
  test(`render: ${name}`, () => {
    const r = renderDockerfileTemplate({ parentImage: PARENT, ...input });
    assert.equal(r.dockerfile, expected);
    assert.equal(r.runsComponents, runs);
  });
}

/** [description, input, expected message fragment]. */
const REFUSALS: [string, Partial<RenderInput> & { template: string }, RegExp][] = [
  ['a template the create-time check refuses', { template: 'FROM {{{ imagebuilder:parentImage }}}\nONBUILD RUN x\n' }, /line 2: unsupported instruction 'ONBUILD'/],
  ['the marker written by hand', { template: `FROM x\n${COMPONENTS_MARKER}\n` }, /unsupported instruction/],
  ['components twice', { template: `${DEFAULT}{{{ imagebuilder:components }}}\n` }, /line 4: .*more than once/],
  ['components inside another instruction', { template: 'FROM x\nRUN echo {{{ imagebuilder:components }}}\n' }, /line 2: .*must stand alone/],
  ['a parent reference with a line break', { template: DEFAULT, parentImage: 'alpine\nRUN evil' }, /not a single image reference/],
  ['a bad environment name', { template: DEFAULT, environments: { 'A-B': '1' } }, /"A-B"/],
  ['a line break in an environment value', { template: DEFAULT, environments: { A: 'x\ny' } }, /line break/],
];

for (const [name, input, message] of REFUSALS) {
  test(`render refuses ${name}`, () => {
    assert.throws(() => renderDockerfileTemplate({ parentImage: PARENT, ...input }), (err: unknown) => isKilnError(err, 'InvalidArgument') && message.test((err as Error).message));
  });
}

test('quoteEnvValue leaves plain text alone inside quotes', () => {
  assert.equal(quoteEnvValue('a b'), '"a b"');
  assert.equal(quoteEnvValue(''), '""');
});
