/**
 * The plain-text formatting of the CLI tables and best-trial reports.
 */
import { describe, expect, it } from 'vitest';
import { formatParam, formatParams, formatTable } from '../../src/cli/format.js';

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
