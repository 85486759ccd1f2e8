/**
 * What a stage instance would be built from now (its fingerprint record), and how that differs
 * from what conno.lock says it was built from: the reasons `status` prints.
 */
import path from 'node:path';
import type { Project } from './project.js';
import type { StageInstance } from '../pipeline/model.js';
import { fingerprintNow, fingerprintOf, RECORD_FORMAT, type FingerprintRecord } from '../hash/fingerprint.js';
import { withResults, type HashInfo, type LockEntry } from '../store/lockfile.js';
import { hashPath, hashPathMemo, type ManifestEntry, type PathMemo } from '../hash/tree.js';
import type { StageCode } from '../stage/code.js';
import type { FingerprintMemo } from './fingerprint-memo.js';
import type { Fingerprint, ObjectHash } from '../hash/types.js';
import { isTreeHash } from '../hash/types.js';
import { canonicalJson } from '../util/canonical.js';
import { dict, own } from '../util/dict.js';

export interface ResolvedInput {
  /** The key in the record: a dep path, or `<instance>:<output>` for a built-in's output. */
  key: string;
  info: HashInfo;
  /** Where to read it. */
  path: string;
  from?: string;
  output?: string;
  /** A dep path as the pipeline names it (relative to the project, or absolute). */
  rel?: string;
}

/** The record key of a command's named output read by a downstream stage: `out/d.arrow as dynamics`. */
export function namedKey(p: string, name: string): string {
  return `${p} as ${name}`;
}

/** The path of a dep key (a named output's key without its ` as name`). */
export function pathOfKey(key: string): string {
  return key.replace(/ as [a-z][a-z0-9_]*$/, '');
}

export interface Computed {
  record: FingerprintRecord;
  fingerprint: Fingerprint;
  deps: Record<string, HashInfo>;
  inputs: ResolvedInput[];
  /** Inputs that do not exist (yet). */
  missing: string[];
  /** File lists of folder inputs, kept so the next `status` can name the file that changed. */
  manifests: ManifestEntry[][];
  /** A module stage's code: its hash is `record.code`, its per-file breakdown goes into conno.lock. */
  code?: StageCode;
}

/** An upstream instance's lock entry (output hashes, fingerprint), as known at this point of a run. */
export type EntryOf = (id: string) => Pick<LockEntry, 'outs' | 'fingerprint'> | undefined;

const stageCodes = new Map<string, Promise<StageCode>>();

/** Key prefix of an input outside the project: `external:<content hash>`. */
export const EXTERNAL = 'external:';

/** The code of a module stage, computed once per process (it cannot change during a command). */
function codeOf(project: Project, inst: StageInstance): Promise<StageCode> {
  const { def, modulePath, isBuiltin } = inst.builtin!;
  const key = `${modulePath}\0${project.root}`;
  let pending = stageCodes.get(key);
  if (!pending) {
    // Loaded here, not at the top: a pipeline of command stages has no module stage's code to read.
    pending = (async () => {
      const [{ stageCodeOf }, cache] = await Promise.all([import('../stage/registry.js'), project.codeCache()]);
      const code = await stageCodeOf(modulePath, isBuiltin, project.root, def, project.stats, cache);
      await cache.save();
      return code;
    })();
    stageCodes.set(key, pending);
    pending.catch(() => stageCodes.delete(key));
  }
  return pending;
}

/**
 * Reads the code of every module stage among `ids` up front: a stale build of conno or a stage
 * module whose imports cannot be followed stops the command before anything runs.
 */
export async function checkStageCode(project: Project, ids: string[]): Promise<void> {
  const seen = new Set<string>();
  for (const id of ids) {
    const inst = project.pipeline.instances.get(id)!;
    if (!inst.builtin || seen.has(inst.builtin.modulePath)) continue;
    seen.add(inst.builtin.modulePath);
    await codeOf(project, inst);
  }
}

/**
 * What `inst` would be built from now. `memo` answers each path once (read-only passes); `fps`
 * (status only) gives a command stage's fingerprint as computed last time when its record is the
 * same (fingerprint-memo.ts says when that is known without writing the record out).
 */
export async function computeInstance(project: Project, inst: StageInstance, entryOf: EntryOf, root = project.root, memo?: PathMemo, fps?: FingerprintMemo): Promise<Computed> {
  const deps = dict<HashInfo>(); // keys are paths: `__proto__` is a file name like any other
  const inputs: ResolvedInput[] = [];
  const missing: string[] = [];
  const manifests: ManifestEntry[][] = [];
  // Pipeline paths are normalised posix paths: on posix systems plain concatenation is exact
  // (and path.join on thousands of paths shows up in a no-op status).
  const absOf = (p: string) => (p.startsWith('/') ? p : path.sep === '/' ? `${root}/${p}` : path.join(root, ...p.split('/')));

  const depPaths = [...inst.deps];
  for (const edge of inst.upstream) {
    if (edge.via !== 'needs') continue;
    const up = project.pipeline.instances.get(edge.id)!;
    if (up.kind === 'cmd') {
      for (const o of up.outs) if (!depPaths.includes(o)) depPaths.push(o);
    } else {
      const outs = entryOf(up.id)?.outs;
      for (const name of up.builtin?.def.outputs ?? []) {
        const key = `${up.id}:${name}`;
        const info = own(outs, name);
        if (!info) {
          missing.push(key);
          continue;
        }
        deps[key] = info;
        inputs.push({ key, info, path: project.store.objectPath(info.hash), from: up.id, output: name });
      }
    }
  }
  for (const p of depPaths) {
    const abs = absOf(p);
    // Through the memo, a file the stat cache knows is answered without a promise.
    const pending = memo ? hashPathMemo(abs, project.stats, memo) : hashPath(abs, project.stats);
    const h = pending instanceof Promise ? await pending : pending;
    if (!h) {
      missing.push(p);
      continue;
    }
    const info: HashInfo = h.nfiles !== undefined ? { hash: h.hash, size: h.size, nfiles: h.nfiles } : { hash: h.hash, size: h.size };
    // Data outside the project enters by its content alone: its absolute path would tie
    // conno.lock to one machine's folders (a clone elsewhere must see the same fingerprints).
    const writer = inst.upstream.find((u) => project.pipeline.instances.get(u.id)!.outs.some((o) => isAtOrUnder(p, o)));
    // A command's named output (`as: dynamics`) is read by its name; the name is part of the key,
    // so that renaming it makes the readers stale.
    const name = writer ? project.pipeline.instances.get(writer.id)!.outAs[p] : undefined;
    const key = name !== undefined ? namedKey(p, name) : p.startsWith('/') ? `${EXTERNAL}${h.hash}` : p;
    deps[key] = info;
    if (h.manifest) manifests.push(h.manifest);
    inputs.push({ key, info, path: abs, from: writer?.id, output: name ?? p, rel: p });
  }

  let code: StageCode | undefined;
  const record: FingerprintRecord = {
    format: RECORD_FORMAT,
    kind: inst.kind,
    params: inst.params,
    deps: hashesOf(deps),
    outs: inst.kind === 'cmd' ? [...inst.outs].sort() : [...(inst.builtin?.def.outputs ?? [])].sort(),
    env: { ...inst.env },
  };
  if (Object.keys(inst.item).length > 0) record.item = { ...inst.item };
  if (Object.keys(inst.outAs).length > 0) record.as = { ...inst.outAs };
  if (inst.kind === 'cmd') record.cmd = inst.cmd!;
  else {
    record.uses = inst.uses!;
    const def = inst.builtin!.def;
    code = await codeOf(project, inst);
    record.code = code.hash;
    record.with = inst.with;
    Object.assign(record.env, def.environment?.(inst.with, inst.env) ?? {});
    if (def.upstreamRecords) {
      record.upstream = dict<Fingerprint>();
      for (const edge of inst.upstream) {
        const fp = entryOf(edge.id)?.fingerprint;
        if (fp === undefined) missing.push(`${edge.id} (fingerprint)`);
        else record.upstream[edge.id] = fp;
      }
    }
  }
  const memoised = inst.kind === 'cmd' ? fps : undefined; // a module stage's record holds its code and environment
  const remembered = memoised?.lookup(inst.id, record.deps);
  const fingerprint = remembered ?? fingerprintNow(record) ?? (await fingerprintOf(record));
  if (memoised && remembered === undefined) memoised.remember(inst.id, record.deps, fingerprint);
  return { record, fingerprint, deps, inputs, missing, manifests, code };
}

/**
 * Each input's hash, by key, in a dict (a dep `__proto__` stays data). A plain loop: Object.entries
 * then Object.fromEntries cost ~5 µs per instance, 5 ms of a no-op `status` over 1,000 stages.
 */
function hashesOf(deps: Record<string, HashInfo>): Record<string, ObjectHash> {
  const out = dict<ObjectHash>();
  for (const k in deps) out[k] = deps[k]!.hash;
  return out;
}

/** `p` is the path `o` or lies inside it (posix paths; no `o + '/'` made for each of thousands of checks). */
export function isAtOrUnder(p: string, o: string): boolean {
  return p === o || (p.length > o.length && p.charCodeAt(o.length) === 47 /* '/' */ && p.startsWith(o));
}

/** The record a lock entry was built from (the lock keeps every part of it). */
export function recordOfEntry(e: LockEntry): FingerprintRecord {
  const r: FingerprintRecord = {
    format: RECORD_FORMAT,
    kind: e.kind,
    params: e.params ?? {},
    deps: hashesOf(e.deps ?? {}),
    outs: Object.keys(e.outs ?? {}).sort(),
    env: e.env ?? {},
  };
  if (e.cmd !== undefined) r.cmd = e.cmd;
  if (e.uses !== undefined) r.uses = e.uses;
  if (e.code !== undefined) r.code = e.code;
  if (e.with !== undefined) r.with = e.with;
  if (e.upstream !== undefined) r.upstream = e.upstream;
  if (e.item !== undefined) r.item = e.item;
  if (e.as !== undefined) r.as = e.as;
  return r;
}

export function entryFromRun(c: Computed, outs: Record<string, HashInfo>, metrics: Record<string, unknown> | undefined): LockEntry {
  const e: LockEntry = {
    fingerprint: c.fingerprint,
    kind: c.record.kind,
    params: c.record.params,
    deps: c.deps,
    outs,
    env: c.record.env,
  };
  if (c.record.cmd !== undefined) e.cmd = c.record.cmd;
  if (c.record.uses !== undefined) e.uses = c.record.uses;
  if (c.record.code !== undefined) e.code = c.record.code;
  if (c.record.with !== undefined) e.with = c.record.with;
  if (c.record.upstream !== undefined) e.upstream = c.record.upstream;
  if (c.record.item !== undefined) e.item = c.record.item;
  if (c.record.as !== undefined) e.as = c.record.as;
  return withResults(e, outs, metrics);
}

/** Human-readable differences between the recorded and the current record. */
export async function explainChange(project: Project, old: LockEntry, now: Computed, renderDepChange?: (key: string, oldInfo: HashInfo | undefined, newInfo: HashInfo | undefined) => Promise<string>): Promise<string[]> {
  const was = recordOfEntry(old);
  const cur = now.record;
  const reasons: string[] = [];
  if (was.kind !== cur.kind) reasons.push(`stage kind changed: ${was.kind} → ${cur.kind}`);
  if (was.cmd !== cur.cmd && cur.cmd !== undefined && was.cmd !== undefined) reasons.push('cmd changed');
  if (was.uses !== cur.uses && cur.uses !== undefined && was.uses !== undefined) reasons.push(`stage module changed: ${was.uses} → ${cur.uses}`);
  else if (was.code !== cur.code && cur.code !== undefined) {
    const before = was.code !== undefined ? project.lock.code?.[was.code] : undefined;
    const files = before && now.code ? (await import('../stage/code.js')).diffCode(before, now.code.detail) : [];
    if (files.length) for (const f of files) reasons.push(`code changed: ${f}`);
    else reasons.push('code changed');
  }
  const paramChanges = diffValues(was.params, cur.params);
  for (const d of paramChanges) reasons.push(`params changed: ${d}`);
  // A `with` value that only changed because the param it interpolates changed is already said.
  const paramTransitions = new Set(paramChanges.map((d) => d.slice(d.indexOf(' ') + 1)));
  for (const d of diffValues(was.with ?? {}, cur.with ?? {})) {
    if (!paramTransitions.has(d.slice(d.indexOf(' ') + 1))) reasons.push(`with changed: ${d}`);
  }
  const keys = [...new Set([...Object.keys(was.deps), ...Object.keys(cur.deps)])].sort();
  // Inputs outside the project are keyed by content: a changed one is one key gone, one new.
  const isExt = (k: string) => k.startsWith(EXTERNAL);
  const extAdded = keys.filter((k) => isExt(k) && !(k in was.deps));
  const extGone = keys.filter((k) => isExt(k) && !(k in cur.deps));
  extAdded.forEach((k, i) => {
    const where = now.inputs.find((x) => x.key === k)?.output ?? k;
    reasons.push(`${i < extGone.length ? 'input changed' : 'input added'}: ${where} (outside the project)`);
  });
  for (let i = extAdded.length; i < extGone.length; i++) reasons.push('input removed: data outside the project');
  for (const k of keys) {
    const a = own(old.deps, k);
    const b = own(now.deps, k);
    if (a?.hash === b?.hash || isExt(k)) continue;
    const label = k;
    if (!a) reasons.push(`input added: ${label}`);
    else if (!b) reasons.push(now.missing.includes(k) ? `input missing: ${label}` : `input removed: ${label}`);
    else reasons.push(renderDepChange ? await renderDepChange(k, a, b) : `input changed: ${label}`);
  }
  if (canonicalJson(was.outs) !== canonicalJson(cur.outs)) reasons.push(`outs changed: [${was.outs.join(', ')}] → [${cur.outs.join(', ')}]`);
  for (const d of diffValues(was.as ?? {}, cur.as ?? {})) reasons.push(`output names changed: ${d}`);
  for (const d of diffValues(was.env, cur.env)) reasons.push(`environment changed: ${d}`);
  if (canonicalJson(was.item ?? {}) !== canonicalJson(cur.item ?? {})) reasons.push(`matrix values changed: ${canonicalJson(was.item ?? {})} → ${canonicalJson(cur.item ?? {})}`);
  for (const id of [...new Set([...Object.keys(was.upstream ?? {}), ...Object.keys(cur.upstream ?? {})])].sort()) {
    if (own(was.upstream, id) !== own(cur.upstream, id)) reasons.push(`upstream run changed: ${id}`);
  }
  if (reasons.length === 0 && old.fingerprint !== now.fingerprint) reasons.push('fingerprint format changed');
  return reasons;
}

/** `input changed: data/raw (2 files changed: a.wav, b.wav; 1 added: c.wav)` when the old manifest is still in the store. */
export async function describeDepChange(project: Project, key: string, a: HashInfo | undefined, b: HashInfo | undefined, root = project.root): Promise<string> {
  const base = `input changed: ${key}`;
  if (!a || !b || !isTreeHash(a.hash) || !isTreeHash(b.hash)) return base;
  try {
    const before = await project.store.readManifest(a.hash as ObjectHash);
    const abs = path.isAbsolute(key) ? key : path.join(root, ...key.split('/'));
    const now = await hashPath(abs, project.stats);
    if (!now?.manifest) return base;
    const oldMap = new Map(before.files.map((f) => [f.path, f.hash]));
    const newMap = new Map(now.manifest.map((f) => [f.path, f.hash]));
    const changed = [...newMap].filter(([p, h]) => oldMap.has(p) && oldMap.get(p) !== h).map(([p]) => p);
    const added = [...newMap.keys()].filter((p) => !oldMap.has(p));
    const removed = [...oldMap.keys()].filter((p) => !newMap.has(p));
    const part = (n: string[], verb: string) => (n.length ? `${n.length} ${verb}: ${n.slice(0, 3).join(', ')}${n.length > 3 ? ', …' : ''}` : '');
    const detail = [part(changed, 'modified'), part(added, 'added'), part(removed, 'removed')].filter(Boolean).join('; ');
    return detail ? `${base} (${detail})` : base;
  } catch {
    return base;
  }
}

function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  if (typeof v === 'string') return /^[\w.\-/:+]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Leaf-level differences `key old → new`, with dotted keys. */
export function diffValues(a: unknown, b: unknown, prefix = ''): string[] {
  if (isObj(a) && isObj(b)) {
    const out: string[] = [];
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      out.push(...diffValues(a[k], b[k], prefix ? `${prefix}.${k}` : k));
    }
    return out;
  }
  if (canonicalJson(a) === canonicalJson(b)) return [];
  return [a !== undefined && b !== undefined && typeof a !== typeof b ? `${prefix} ${JSON.stringify(a)} → ${JSON.stringify(b)}` : `${prefix} ${show(a)} → ${show(b)}`]; // a type change (64 → "64") must show
}
