/**
 * A ustar archive built byte by byte, for tests: entries with names, types and link targets that
 * a tar writer would refuse to produce (`../evil`, absolute paths, links), and nothing else.
 */
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data?: Buffer;
  /** '0' file (default), '5' directory, '1' hard link, '2' symbolic link. */
  type?: '0' | '1' | '2' | '5';
  linkname?: string;
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, at: number, len: number) => h.write(text.slice(0, len), at, len, 'latin1');
  const octal = (n: number, at: number, len: number) => put(n.toString(8).padStart(len - 1, '0') + '\0', at, len);
  put(e.name, 0, 100);
  octal(e.type === '5' ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  h.fill(0x20, 148, 156); // the checksum field counts as spaces while summing
  put(e.type ?? '0', 156, 1);
  put(e.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

export function makeTar(entries: readonly TarEntry[], opts: { gzip?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === undefined || e.type === '0' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  const tar = Buffer.concat(parts);
  return opts.gzip ? gzipSync(tar) : tar;
}
