import { describe, expect, it } from 'vitest';
import { InjectNoiseParamsSchema } from './params.js';

const data = (d: unknown) => InjectNoiseParamsSchema.parse({ data: d }).data;

describe('inject-noise data.condition (a point of a data-noise axis)', () => {
  it('expands clean, <n>dB and pure', () => {
    expect(data({ condition: 'clean', test_copies: { snrs: [10] } })).toMatchObject({ kind: 'white', fraction: 0, test_copies: { snrs: [10], split: 'test' } });
    expect(data({ condition: '10dB', kind: 'pink' })).toMatchObject({ kind: 'pink', snr_db: 10, fraction: 1 });
    expect(data({ condition: '-5.5dB' })).toMatchObject({ kind: 'white', snr_db: -5.5 });
    expect(data({ condition: 'pure', kind: 'brown' })).toMatchObject({ kind: 'pure', source: 'brown', fraction: 1 });
  });

  it('rejects unknown conditions and conflicting keys, naming the key', () => {
    expect(() => data({ condition: 'loud' })).toThrow(/unknown condition 'loud': expected clean, <number>dB/);
    expect(() => data({ condition: '10dB', snr_db: 3 })).toThrow(/condition sets snr_db: give one or the other/);
  });
});
