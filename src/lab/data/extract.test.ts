import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { makeZip } from '../../../test/support/zip.js';
import { makeTar, type TarEntry } from '../../../test/support/tar.js';
import { extractArchive } from './extract.js';
import { walkFiles } from './datasets.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const tmp = () => (dir = mkdtempSync(path.join(os.tmpdir(), 'conno-extract-')));

/** A tar.gz of `files` made with tar itself; `raw` headers can carry hostile paths. */
async function makeTarGz(root: string, files: Record<string, string>, out: string): Promise<void> {
  const src = path.join(root, 'src');
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    writeFileSync(path.join(src, rel), content);
  }
  await tar.c({ gzip: true, file: out, cwd: src, portable: true }, Object.keys(files).sort());
}

describe('extractArchive', () => {
  it('extracts a tar.gz made with tar', async () => {
    const root = tmp();
    const archive = path.join(root, 'a.tar.gz');
    await makeTarGz(root, { 'top/recordings/0_a_0.wav': 'zero', 'top/README.md': 'hi' }, archive);
    await extractArchive(archive, path.join(root, 'out'));
    expect(await walkFiles(path.join(root, 'out'))).toEqual(['top/README.md', 'top/recordings/0_a_0.wav']);
    expect(readFileSync(path.join(root, 'out/top/recordings/0_a_0.wav'), 'utf8')).toBe('zero');
  });

  it('extracts a zip (by content, whatever its name)', async () => {
    const root = tmp();
    const archive = path.join(root, 'master'); // GitHub-style: no extension
    writeFileSync(archive, makeZip([{ name: 'ESC-50-master/' }, { name: 'ESC-50-master/meta/esc50.csv', data: Buffer.from('a,b\n') }, { name: 'ESC-50-master/audio/1.wav', data: Buffer.from('x'.repeat(1000)) }]));
    await extractArchive(archive, path.join(root, 'out'));
    expect(await walkFiles(path.join(root, 'out'))).toEqual(['ESC-50-master/audio/1.wav', 'ESC-50-master/meta/esc50.csv']);
    expect(readFileSync(path.join(root, 'out/ESC-50-master/audio/1.wav'), 'utf8')).toBe('x'.repeat(1000));
  });

  it('refuses zip entries that leave the destination, and symlinks', async () => {
    const root = tmp();
    for (const [i, entry] of [{ name: '../evil.txt', data: Buffer.from('x') }, { name: '/etc/evil.txt', data: Buffer.from('x') }, { name: 'a/../../evil.txt', data: Buffer.from('x') }, { name: 'link', data: Buffer.from('/etc/passwd'), mode: 0o120777 }].entries()) {
      const archive = path.join(root, `bad${i}.zip`);
      writeFileSync(archive, makeZip([{ name: 'ok.txt', data: Buffer.from('ok') }, entry]));
      const out = path.join(root, `out${i}`);
      await expect(extractArchive(archive, out)).rejects.toThrow(new RegExp(`${archive.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*(refusing|invalid|absolute)`));
      expect(existsSync(out)).toBe(false);
    }
    expect(existsSync(path.join(root, 'evil.txt'))).toBe(false);
    expect(existsSync(path.join(path.dirname(root), 'evil.txt'))).toBe(false);
  });

  it('refuses tar entries that leave the destination, and links', async () => {
    const root = tmp();
    const ok = { name: 'ok.txt', data: Buffer.from('ok') };
    const cases: [TarEntry, RegExp][] = [
      [{ name: '../evil.txt', data: Buffer.from('x') }, /refusing entry path '\.\.\/evil\.txt'/],
      [{ name: 'a/../../evil.txt', data: Buffer.from('x') }, /refusing entry path 'a\/\.\.\/\.\.\/evil\.txt'/],
      [{ name: '/tmp/conno-evil.txt', data: Buffer.from('x') }, /refusing (absolute entry path|entry path) '\/tmp\/conno-evil\.txt'/],
      [{ name: 'link', type: '2', linkname: '/etc/passwd' }, /refusing link entry 'link'/],
      [{ name: 'b.wav', type: '1', linkname: 'ok.txt' }, /refusing link entry 'b\.wav'/],
    ];
    for (const [i, [entry, message]] of cases.entries()) {
      for (const gzip of [true, false]) {
        const archive = path.join(root, `bad${i}.tar${gzip ? '.gz' : ''}`);
        writeFileSync(archive, makeTar([ok, entry], { gzip }));
        const out = path.join(root, `out${i}${gzip ? 'z' : ''}`);
        await expect(extractArchive(archive, out)).rejects.toThrow(message);
        expect(existsSync(out)).toBe(false);
      }
    }
    expect(existsSync(path.join(root, 'evil.txt'))).toBe(false);
    expect(existsSync('/tmp/conno-evil.txt')).toBe(false);
    // The same builder's harmless archive extracts: the refusals are for the entries, not the format.
    writeFileSync(path.join(root, 'good.tar'), makeTar([{ name: 'd', type: '5' }, { name: 'd/a.wav', data: Buffer.from('a') }]));
    await extractArchive(path.join(root, 'good.tar'), path.join(root, 'good'));
    expect(readFileSync(path.join(root, 'good/d/a.wav'), 'utf8')).toBe('a');
  });

  it('a truncated archive is an error naming it, and leaves no folder', async () => {
    const root = tmp();
    const archive = path.join(root, 'a.tar.gz');
    await makeTarGz(root, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d/f${i}.bin`, `${i}`.repeat(5000 + i)])), archive);
    const bytes = readFileSync(archive);
    writeFileSync(archive, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(extractArchive(archive, path.join(root, 'out'))).rejects.toThrow(`${archive}: cannot extract`);
    expect(existsSync(path.join(root, 'out'))).toBe(false);

    const zip = path.join(root, 'a.zip');
    const zbytes = makeZip([{ name: 'a.txt', data: Buffer.from('a'.repeat(10000)) }]);
    writeFileSync(zip, zbytes.subarray(0, zbytes.length - 30));
    await expect(extractArchive(zip, path.join(root, 'outz'))).rejects.toThrow(`${zip}: cannot extract`);
  });
});
