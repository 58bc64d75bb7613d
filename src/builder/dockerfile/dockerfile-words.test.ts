import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordLexer, formatGoDuration, goQuote, goQuoteList, parseGoDuration, splitRaw } from './dockerfile-words.js';

const vars: Record<string, string> = { A: 'a', EMPTY: '', SP: 'x y', PATH: '/bin' };
const lexer = new WordLexer('\\', (n) => vars[n]);

/** [input, word(), words()] as Docker's shell lexer gives them. */
const WORDS: [string, string, string[]][] = [
  ['plain', 'plain', ['plain']],
  ['$A', 'a', ['a']],
  ['${A}b', 'ab', ['ab']],
  ['$A-$UNSET-', 'a--', ['a--']],
  ['${UNSET:-def}', 'def', ['def']],
  ['${EMPTY:-def}', 'def', ['def']],
  ['${EMPTY-def}', '', ['']],
  ['${A:+set}', 'set', ['set']],
  ['${UNSET:+set}', '', ['']],
  ['${UNSET:-$A$A}', 'aa', ['aa']],
  ["'$A'", '$A', ['$A']],
  ['"$A b"', 'a b', ['a b']],
  ['"\\$A \\"q\\" \\x"', '$A "q" \\x', ['$A "q" \\x']],
  ['\\$A', '$A', ['$A']],
  ['a  b', 'a  b', ['a', 'b']],
  ['$SP', 'x y', ['x y']],
  ['"" x', ' x', ['', 'x']],
  ['$', '$', ['$']],
  ['cost$5', 'cost', ['cost']],
  ['${PATH}:/usr/bin', '/bin:/usr/bin', ['/bin:/usr/bin']],
];

for (const [input, word, words] of WORDS) {
  test(`lexer: ${input}`, () => {
    assert.equal(lexer.word(input), word);
    assert.deepEqual(lexer.words(input), words);
  });
}

test('lexer errors: unclosed quotes and braces, ${X:?}', () => {
  assert.throws(() => lexer.word("'open"), /single-quote/);
  assert.throws(() => lexer.word('"open'), /double-quote/);
  assert.throws(() => lexer.word('${A'), /missing '}'/);
  assert.throws(() => lexer.word('${UNSET:?must be set}'), /UNSET: must be set/);
  assert.throws(() => lexer.word('${A%x}'), /unsupported modifier/);
});

test('the backtick escape', () => {
  const win = new WordLexer('`', (n) => vars[n]);
  assert.equal(win.word('C:\\dir `$A'), 'C:\\dir $A');
});

test('splitRaw keeps quotes and escapes for the pair parsers', () => {
  assert.deepEqual(splitRaw('A=1 B="x y" C=\'$z\' D=a\\ b', '\\'), ['A=1', 'B="x y"', "C='$z'", 'D=a\\ b']);
});

test('Go quoting and durations as Docker writes them', () => {
  assert.equal(goQuote('echo "hi"\n\t\x01'), '"echo \\"hi\\"\\n\\t\\x01"');
  assert.equal(goQuoteList(['/bin/sh', '-c', 'echo $A']), '["/bin/sh" "-c" "echo $A"]');
  const table: [string, number, string][] = [
    ['0', 0, '0s'], ['30s', 30e9, '30s'], ['1m30s', 90e9, '1m30s'], ['1h', 3.6e12, '1h0m0s'], ['1.5s', 1.5e9, '1.5s'],
    ['500ms', 5e8, '500ms'], ['1.5ms', 1.5e6, '1.5ms'], ['2us', 2000, '2µs'], ['10ns', 10, '10ns'], ['2h3m4.005s', 7384.005e9, '2h3m4.005s'],
  ];
  for (const [text, ns, formatted] of table) {
    assert.equal(parseGoDuration(text), ns, text);
    assert.equal(formatGoDuration(ns), formatted, text);
  }
  for (const bad of ['', '5', 's', '1x', '1s2', '.s']) assert.equal(parseGoDuration(bad), undefined, bad);
});
