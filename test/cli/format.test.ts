/**
 * The plain-text formatting of the CLI tables and best-trial reports.
 */
import { describe, expect, it } from 'vitest';
import { formatParam, formatParams, formatTable, formatText } from '../../src/cli/format.js';

describe('formatParam', () => {
  it('keeps a categorical string with a line break or tab on one line, so a table row stays one row', () => {
    expect(formatParam('new\nline')).toBe('"new\\nline"');
    expect(formatParam('a\tb\r')).toBe('"a\\tb\\r"');
    const table = formatTable(['number', 'c', 'duration'], [['0', formatParam('new\nline'), '3ms']]);
    expect(table.split('\n')).toHaveLength(4); // header, rule, one row, final newline
    expect(formatParams({ c: 'x\ny' })).toBe('c="x\\ny"');
  });

  it('leaves printable strings, unicode, quotes and commas as they are', () => {
    expect(formatParam('ünï')).toBe('ünï');
    expect(formatParam('q"uote')).toBe('q"uote');
    expect(formatParam('a,b')).toBe('a,b');
  });
});

describe('names with a control character', () => {
  it('keep a table header and a studies row on one line, and a param name on its report line', () => {
    // A define-by-run parameter name or a study name (`--study`) may hold a line break too.
    const table = formatTable(['number', 'a\nb', 'duration'], [['0', '1', '3ms']]);
    expect(table.split('\n')).toHaveLength(4);
    expect(table.split('\n')[0]).toBe('number  "a\\nb"  duration');
    const studies = formatTable(['study', 'trials'], [['s\nt', '2']]);
    expect(studies.split('\n')).toHaveLength(4);
    expect(formatParams({ 'a\nb': 1 })).toBe('"a\\nb"=1');
    expect(formatText('a\tb')).toBe('"a\\tb"');
    expect(formatText('plain name')).toBe('plain name');
  });
});
