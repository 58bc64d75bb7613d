import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDockerfileTemplate } from './dockerfile-parse.js';

const DEFAULT = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n';

/** [description, template, expected issues as `line: message fragment`]. */
const CASES: [string, string, string[]][] = [
  ['the default template', DEFAULT, []],
  ['CRLF line ends and extra spacing in placeholders', 'FROM {{{imagebuilder:parentImage}}}\r\n{{{  imagebuilder:components  }}}\r\n', []],
  [
    'every supported instruction, lower case too',
    [
      'ARG BASE=x',
      'FROM {{{ imagebuilder:parentImage }}} AS build',
      'run echo hi',
      'ENV A=1',
      'WORKDIR /app',
      'USER root',
      'LABEL a=b',
      'EXPOSE 80',
      'CMD ["x"]',
      'ENTRYPOINT ["y"]',
      'SHELL ["/bin/sh", "-c"]',
      'VOLUME /data',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK CMD true',
      'COPY a b',
      'ADD c d',
    ].join('\n'),
    [],
  ],
  ['comments, blank lines and continuations', '# a comment\n\nFROM alpine\nRUN echo a \\\n  # inside\n  && echo b\n\nRUN x\n', []],
  ['a continuation does not hide the next instruction', 'FROM alpine\nRUN echo \\\n  ONBUILD\nONBUILD RUN x\n', ['4: unsupported instruction \'ONBUILD\'']],
  ['escape directive changes the continuation character', '# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir `\n  c:\\\n', []],
  ['bad escape directive', '# escape=!\nFROM alpine\n', ['1: the escape directive accepts']],
  ['here-documents are data', 'FROM alpine\nRUN <<EOF\nMAINTAINER not an instruction\nEOF\nCOPY <<-END /x\n\tONBUILD text\n\tEND\n', []],
  ['an unclosed here-document', 'FROM alpine\nRUN <<EOF\necho\n', ['2: the here-document <<EOF is never closed']],
  ['unsupported instructions are named with their line', 'FROM alpine\nMAINTAINER me\nONBUILD RUN x\n', ["2: unsupported instruction 'MAINTAINER'", "3: unsupported instruction 'ONBUILD'"]],
  ['a misspelled instruction', 'FROM alpine\nRUNN x\n', ["2: unsupported instruction 'RUNN'"]],
  ['an unknown placeholder', 'FROM {{{ imagebuilder:parent }}}\n', ['1: unknown placeholder {{{ imagebuilder:parent }}}']],
  ['parentImage cannot stand alone', 'FROM alpine\n{{{ imagebuilder:parentImage }}}\n', ["2: unsupported instruction '{{{'"]],
  ['instructions before FROM', 'RUN x\n{{{ imagebuilder:components }}}\nFROM alpine\n', ['1: RUN must come after a FROM', '2: {{{ imagebuilder:components }}} must come after a FROM']],
  ['no FROM at all', '# only a comment\nARG X\n', ['1: the template has no FROM instruction']],
  ['an empty template', '', ['1: the template has no FROM instruction']],
  ['an instruction without arguments', 'FROM alpine\nRUN\n', ['2: RUN needs arguments']],
];

for (const [name, template, expected] of CASES) {
  test(`dockerfile template: ${name}`, () => {
    const issues = checkDockerfileTemplate(template);
    assert.equal(issues.length, expected.length, JSON.stringify(issues));
    expected.forEach((e, i) => {
      const text = `${issues[i]!.line}: ${issues[i]!.message}`;
      assert.ok(text.startsWith(e), `${text} should start with ${e}`);
    });
  });
}
