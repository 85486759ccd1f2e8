/**
 * Remote caches end to end: a folder remote, and an S3-compatible server (s3rver, an S3 REST
 * API over local files, started on 127.0.0.1) reached through the AWS SDK.
 */
import { describe, it, expect, afterEach, beforeAll, afterAll } from 'vitest';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import S3rver from 's3rver';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { tempProject, countingCmd, runCount, type TempProject } from './helpers.js';

const PIPELINE = (remotes: string) => `params: [params.yaml]
${remotes}
stages:
  gen:
    cmd: ${countingCmd('gen', 'mkdir -p out && echo "n=${n}" > out/a.txt && seq 1 ${n} > out/b.txt')}
    outs: [out]
  sum:
    needs: [gen]
    cmd: ${countingCmd('sum', 'cat out/a.txt out/b.txt | wc -l > sum.txt')}
    outs: [sum.txt]
`;

/** A second checkout of the same project: its files, no cache, no outputs. */
function cloneOf(p: TempProject): TempProject {
  const c = tempProject({});
  for (const f of ['pipeline.yaml', 'params.yaml', 'conno.lock']) cpSync(path.join(p.dir, f), path.join(c.dir, f));
  return c;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.join(d, e.name));
    }
  };
  try {
    walk(dir);
  } catch {
    // No such folder: nothing in it.
  }
  return out;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function project(remotes: string): TempProject {
  const p = tempProject({ 'pipeline.yaml': PIPELINE(remotes), 'params.yaml': 'n: 3\n' });
  cleanup.push(() => p.remove());
  return p;
}

function clone(p: TempProject): TempProject {
  const c = cloneOf(p);
  cleanup.push(() => c.remove());
  return c;
}

describe('folder remote', () => {
  let remoteDir: string;
  const remotes = () => `remotes:\n  shared: ${remoteDir}\ndefault_remote: shared`;
  afterEach(() => rmSync(remoteDir, { recursive: true, force: true }));

  it('push moves what the remote lacks; pull restores it into a fresh checkout without running anything', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    let r = await a.conno(['push']);
    expect(r.exitCode, r.all).toBe(0);
    // out/ (manifest + 2 files) + sum.txt = 4 objects, 2 run records.
    expect(r.stdout).toMatch(/pushed 4 objects \(\d+ B\) and 2 run records to remote 'shared' \(.*\); 0 already there\./);
    r = await a.conno(['push']);
    expect(r.stdout).toMatch(/pushed 0 objects \(0 B\) and 0 run records .*; 6 already there\./);
    // Objects on the remote are read-only and named by their hash, as in a local cache.
    const objs = filesUnder(path.join(remoteDir, 'objects'));
    expect(objs).toHaveLength(4);
    for (const f of objs) expect(statSync(f).mode & 0o222).toBe(0);

    const b = clone(a);
    r = await b.conno(['pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/pulled 4 objects \(\d+ B\) and 2 run records from remote 'shared' .*; 0 already here; 2 outputs restored into the project\./);
    expect(b.read('out/a.txt')).toBe('n=3\n');
    expect(b.read('sum.txt').trim()).toBe('4');
    expect((await b.conno(['status'])).stdout).toContain('Everything is up to date (2 stage instances)');
    expect((await b.conno(['pull'])).stdout).toMatch(/pulled 0 objects .* 4 already here; 0 outputs restored/);
    expect(runCount(b, 'gen')).toBe(0);
  }, 120_000);

  it('repro --pull restores from the remote, also results of earlier params (push --all-runs)', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    a.write('params.yaml', 'n: 5\n');
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    // Only what conno.lock names (n=5) …
    expect((await a.conno(['push'])).stdout).toMatch(/and 2 run records/);
    // … and with --all-runs every run in the run-cache (n=3 as well).
    expect((await a.conno(['push', '--all-runs'])).stdout).toMatch(/and 2 run records .*; 6 already there/);

    const b = clone(a);
    let r = await b.conno(['repro', '--pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('restored gen (from the remote)');
    expect(r.all).toContain('restored sum (from the remote)');
    expect(b.read('sum.txt').trim()).toBe('6');
    // Back to n=3, which only the run-cache of the other machine had.
    b.write('params.yaml', 'n: 3\n');
    r = await b.conno(['repro', '--pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('restored gen (from the remote)');
    expect(b.read('sum.txt').trim()).toBe('4');
    expect(runCount(b, 'gen')).toBe(0);
    expect(runCount(b, 'sum')).toBe(0);
    // Without --pull, a new value is built here.
    b.write('params.yaml', 'n: 7\n');
    r = await b.conno(['repro', '--pull']);
    expect(r.all).toMatch(/done gen/);
    expect(runCount(b, 'gen')).toBe(1);
  }, 120_000);

  it('rejects a corrupted object on pull, naming it and the remote, and stores nothing under its name', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    expect((await a.conno(['push'])).exitCode).toBe(0);
    const sumHash = parse(a.read('conno.lock')).stages.sum.outs['sum.txt'].hash as string;
    const onRemote = path.join(remoteDir, 'objects', sumHash.slice(0, 2), sumHash.slice(2));
    chmodSync(onRemote, 0o644);
    writeFileSync(onRemote, '999\n');
    const b = clone(a);
    let r = await b.conno(['pull']);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`object ${sumHash} from remote 'shared' \\(.*\\) is corrupt: its bytes hash to [0-9a-f]{16}; it was not stored`));
    expect(r.stderr).toContain("lacks results of 1 stage instance: sum");
    expect(b.exists(`cache/objects/${sumHash.slice(0, 2)}/${sumHash.slice(2)}`)).toBe(false);
    expect(b.exists('sum.txt')).toBe(false);
    expect(b.read('out/a.txt')).toBe('n=3\n'); // what was intact arrived
    // repro --pull builds what the remote cannot give intact.
    r = await b.conno(['repro', '--pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/sum: object .* is corrupt/);
    expect(r.all).toContain('done sum');
    expect(b.read('sum.txt').trim()).toBe('4');
  }, 120_000);

  it('refuses to push an object whose bytes no longer match its name', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    const sumHash = parse(a.read('conno.lock')).stages.sum.outs['sum.txt'].hash as string;
    const local = path.join(a.dir, 'cache', 'objects', sumHash.slice(0, 2), sumHash.slice(2));
    chmodSync(local, 0o644);
    writeFileSync(local, '999\n');
    const r = await a.conno(['push']);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`object ${sumHash} arrived at remote 'shared' .* as bytes hashing to [0-9a-f]{16}; it was not stored there`));
    expect(filesUnder(path.join(remoteDir, 'objects')).some((f) => f.endsWith(sumHash.slice(2)))).toBe(false);
    // No run record on the remote points at objects it lacks.
    expect(filesUnder(path.join(remoteDir, 'runs'))).toEqual([]);
  }, 120_000);

  it('concurrent pushes of the same objects from two machines leave one intact copy', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    const b = clone(a);
    expect((await b.conno(['repro'])).exitCode).toBe(0);
    const [ra, rb] = await Promise.all([a.conno(['push']), b.conno(['push'])]);
    expect(ra.exitCode, ra.all).toBe(0);
    expect(rb.exitCode, rb.all).toBe(0);
    expect(filesUnder(path.join(remoteDir, 'objects'))).toHaveLength(4);
    expect(filesUnder(path.join(remoteDir, 'tmp'))).toEqual([]);
    const c = clone(a);
    const r = await c.conno(['pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(c.read('sum.txt').trim()).toBe('4');
  }, 120_000);

  it('says what is wrong with a remote choice (exit 2)', async () => {
    remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    const a = project(remotes());
    let r = await a.conno(['push', '--remote', 'shraed']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown remote 'shraed' (remotes in pipeline.yaml: shared");
    r = await a.conno(['repro', '--remote', 'shared']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--remote goes with --pull');
    r = await a.conno(['pull', '--remote', 's3://Bad_Bucket/x']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("'s3://Bad_Bucket/x' is not an s3://BUCKET/PREFIX URL");
    const n = project('');
    r = await n.conno(['push']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no remote: add `remotes:` to pipeline.yaml');
    const d = project('remotes: { shared: /tmp/x }\ndefault_remote: other');
    r = await d.conno(['push']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("default_remote 'other' is not one of the remotes (shared)");
    // A folder given on the command line works without configuration.
    expect((await n.conno(['repro'])).exitCode).toBe(0);
    r = await n.conno(['push', '--remote', remoteDir]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`pushed 4 objects`);
  }, 120_000);
});

describe('S3 remote (s3rver on 127.0.0.1)', () => {
  let server: S3rver;
  let endpoint: string;
  let storeDir: string;
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  beforeAll(async () => {
    storeDir = mkdtempSync(path.join(os.tmpdir(), 'conno-s3-'));
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: storeDir });
    const { port } = (await server.run()) as { port: number };
    endpoint = `http://127.0.0.1:${port}`;
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await c.send(new CreateBucketCommand({ Bucket: 'conno-cache' }));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(storeDir, { recursive: true, force: true });
  });
  const remotes = () => `remotes:\n  lab: { url: s3://conno-cache/study-1, endpoint: "${endpoint}", region: us-east-1 }\ndefault_remote: lab`;

  it('push, pull into a fresh checkout, repro --pull, and a corrupted object rejected', async () => {
    const a = project(remotes());
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    let r = await a.conno(['push'], { env });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/pushed 4 objects \(\d+ B\) and 2 run records to remote 'lab' \(s3:\/\/conno-cache\/study-1\); 0 already there\./);
    expect(r.all).not.toContain('NodeVersionSupportWarning');
    r = await a.conno(['push'], { env });
    expect(r.stdout).toMatch(/pushed 0 objects .*; 6 already there\./);

    const b = clone(a);
    r = await b.conno(['pull'], { env });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/pulled 4 objects .* 2 outputs restored/);
    expect(b.read('sum.txt').trim()).toBe('4');
    expect((await b.conno(['status'])).stdout).toContain('Everything is up to date');

    const c = clone(a);
    r = await c.conno(['repro', '--pull'], { env });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('restored sum (from the remote)');
    expect(runCount(c, 'sum')).toBe(0);

    // Corrupt the stored bytes behind the server's back.
    const sumHash = parse(a.read('conno.lock')).stages.sum.outs['sum.txt'].hash as string;
    const stored = filesUnder(storeDir).find((f) => f.includes(`${sumHash.slice(0, 2)}/${sumHash.slice(2)}`) && f.endsWith('._S3rver_object'));
    expect(stored, filesUnder(storeDir).join('\n')).toBeDefined();
    writeFileSync(stored!, '999\n');
    const d = clone(a);
    r = await d.conno(['pull'], { env });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`object ${sumHash} from remote 'lab' \\(s3://conno-cache/study-1\\) is corrupt`));
    expect(d.exists('sum.txt')).toBe(false);
  }, 120_000);

  it('names a missing bucket and missing credentials', async () => {
    const a = project(`remotes:\n  lab: { url: s3://no-such-bucket/x, endpoint: "${endpoint}" }`);
    expect((await a.conno(['repro'])).exitCode).toBe(0);
    const r = await a.conno(['push', '--remote', 'lab'], { env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("remote 'lab' (s3://no-such-bucket/x): bucket 'no-such-bucket' does not exist");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const home = mkdtempSync(path.join(os.tmpdir(), 'conno-home-'));
    cleanup.push(() => rmSync(home, { recursive: true, force: true }));
    const b = project(remotes());
    expect((await b.conno(['repro'])).exitCode).toBe(0);
    const nocreds = await b.conno(['push'], { env: { HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none') } });
    expect(nocreds.exitCode, nocreds.all).toBe(1);
    expect(nocreds.stderr).toContain('no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)');
  }, 60_000);
});
