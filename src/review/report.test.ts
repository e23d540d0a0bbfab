import { describe, expect, it } from 'vitest';
import { csvField } from './report.ts';

describe('csvField', () => {
  it.each(['=1+1', '+1', '-1', '@SUM(A1)', '\t=1', '\r=1'])('puts a quote before %j, inside the field’s own quotes', (text) => {
    expect(csvField(text)).toBe(`"'${text}"`);
  });

  it('leaves other text and numbers as they are, doubling quotes', () => {
    expect(csvField('ls -l "a b"')).toBe('"ls -l ""a b"""');
    expect(csvField(' =not at the start')).toBe('" =not at the start"');
    expect(csvField(-1)).toBe('"-1"');
    expect(csvField(null)).toBe('""');
  });

  it('neutralises before quoting, so a quote cannot end the field early', () => {
    expect(csvField('="x","=cmd|\' /c calc\'!A1"')).toBe('"\'=""x"",""=cmd|\' /c calc\'!A1"""');
  });
});
