/** Small mono WAV files for the tests (real RIFF bytes, decoded by conno's reader). */

/** A mono WAV of `samples`: 16-bit PCM integers, or 32-bit float values. */
export function wavFile(samples: readonly number[], opts: { format?: 'int16' | 'float32'; rate?: number } = {}): Buffer {
  const float = opts.format === 'float32';
  const rate = opts.rate ?? 16000;
  const width = float ? 4 : 2;
  const header: [number, number][] = [
    // [value, bytes] after 'RIFF' size 'WAVEfmt ': fmt size, format tag, channels, rate, byte rate, block align, bits
    [16, 4], [float ? 3 : 1, 2], [1, 2], [rate, 4], [rate * width, 4], [width, 2], [8 * width, 2],
  ];
  const b = Buffer.alloc(44 + samples.length * width);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples.length * width, 4);
  b.write('WAVEfmt ', 8);
  let at = 16;
  for (const [v, n] of header) at = n === 4 ? b.writeUInt32LE(v, at) : b.writeUInt16LE(v, at);
  b.write('data', 36);
  b.writeUInt32LE(samples.length * width, 40);
  samples.forEach((s, i) => (float ? b.writeFloatLE(s, 44 + i * 4) : b.writeInt16LE(s, 44 + i * 2)));
  return b;
}
