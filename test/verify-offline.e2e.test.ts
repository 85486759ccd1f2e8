/**
 * A study whose data must be downloaded, verified where the download fails (a reviewer offline,
 * a compute node): the failure is reported once, with how to provide the data through a mirror.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { serveFolder } from './support/http-server.js';

let p: TempProject | undefined;
afterEach(() => p?.remove());

it('verify without the data names the mirror to use, and prints the failure once', async () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'conno-empty-'));
  const server = await serveFolder(empty);
  try {
    p = tempProject({ 'pipeline.yaml': `stages:\n  data:\n    uses: download\n    with: { dataset: fsdd, url: "${server.url}/v1.0.10.tar.gz" }\n` });
    const r = await p.conno(['verify'], { env: { CONNO_DATA_MIRROR: '' } });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toContain('put free-spoken-digit-dataset-1.0.10.tar.gz or fsdd-1.0.10.tar.gz in a folder and set CONNO_DATA_MIRROR=<folder>');
    expect(r.all.match(/FAILED data/g)).toHaveLength(1);
    expect(r.stdout).toContain('Verify failed: 0 mismatches, 1 failed stage instance (data).');
  } finally {
    await server.close();
    rmSync(empty, { recursive: true, force: true });
  }
});
