/**
 * `conno status`: which instances are stale and exactly why, without running anything.
 * Reads hashes through the stat cache and checks cache objects by existence only, so a no-op
 * status over thousands of stages stays fast.
 */
import type { Project } from './project.js';
import { computeInstance, describeDepChange, explainChange, isAtOrUnder, pathOfKey, type EntryOf } from './state.js';
import type { HashInfo } from '../store/lockfile.js';
import { dict, own } from '../util/dict.js';
import { hashPathMemo, type PathMemo } from '../hash/tree.js';
import type { Fingerprint } from '../hash/types.js';
import path from 'node:path';
import { FingerprintMemo } from './fingerprint-memo.js';
import { savedAnalysisText } from '../pipeline/analysis-cache.js';

export interface InstanceStatus {
  id: string;
  stage: string;
  stale: boolean;
  reasons: string[];
  fingerprint?: Fingerprint;
}

export async function computeStatus(project: Project, ids: string[]): Promise<InstanceStatus[]> {
  // conno.lock rewritten between its summaries and the whole of it (a repro running beside):
  // answered again from the whole lock as it is now, so that no answer mixes two locks.
  // Command stages' fingerprints as the last status computed them, for the same records (fingerprint-memo.ts).
  const analysis = savedAnalysisText(project.pipeline);
  const fps = analysis !== undefined ? await FingerprintMemo.open(path.join(project.cacheDir, 'fingerprints.json'), analysis, project.stats) : undefined;
  return (await statusOnce(project, ids, false, fps)) ?? (await statusOnce(project, ids, true, fps))!;
}

/** The status, or (on the first pass) undefined when the lock turned out to have changed under its summaries. */
async function statusOnce(project: Project, ids: string[], again: boolean, fps: FingerprintMemo | undefined): Promise<InstanceStatus[] | undefined> {
  const p = project.pipeline;
  // What each entry was built into (fingerprint, outputs); the rest of an entry is read only to
  // explain a change (the project may have opened with the summaries alone).
  const lock = project.lockSummaries();
  const stale = new Map<string, boolean>();
  const out: InstanceStatus[] = [];
  const outsByName = new Map<string, Record<string, HashInfo>>();
  const entryOf: EntryOf = (id) => {
    const s = lock.get(id);
    if (!s) return undefined;
    let outs = outsByName.get(id);
    if (!outs) {
      outs = dict<HashInfo>();
      for (const [name, info] of s.outs) outs[name] = info;
      outsByName.set(id, outs);
    }
    return { fingerprint: s.fingerprint, outs };
  };
  // Status changes nothing, so each path needs looking at only once.
  const memo: PathMemo = new Map();
  for (const id of project.withUpstream(ids)) {
    const inst = p.instances.get(id)!;
    const reasons: string[] = [];
    const c = await computeInstance(project, inst, entryOf, project.root, memo, fps);
    const entry = lock.get(id);
    const staleUps: string[] = [];
    for (const u of inst.upstream) if (stale.get(u.id)) staleUps.push(u.id);
    // Inputs an upstream is about to (re)write are not "missing"; the upstream's staleness says it.
    const upstreamOwned = (key: string) =>
      staleUps.some((u) => key.startsWith(`${u}:`) || p.instances.get(u)!.outs.some((o) => isAtOrUnder(pathOfKey(key), o)));
    if (!entry) reasons.push('new');
    else if (entry.fingerprint !== c.fingerprint) {
      const full = own((await project.loadLock()).stages, id);
      if (project.lockChangedSinceSummaries && !again) return undefined;
      const why = full ? await explainChange(project, full, c, (k, a, b) => describeDepChange(project, k, a, b)) : [];
      // The summaries are derived from the same bytes; should they still disagree, the instance stays stale.
      if (full?.fingerprint !== entry.fingerprint) why.push('the lock summary in cache/ disagrees with conno.lock');
      reasons.push(...why.filter((r) => !staleUps.length || !/^input (changed|missing|removed|added): /.test(r) || !upstreamOwned(r.replace(/^input \w+: /, '').replace(/ \(.*$/, ''))));
    }
    for (const m of c.missing) if (!upstreamOwned(m) && !inst.upstream.some((u) => m.startsWith(`${u.id}:`))) reasons.push(`input missing: ${m}`);
    if (entry) {
      for (const [name, info] of entry.outs) {
        if (inst.kind === 'cmd') {
          const pending = hashPathMemo(project.abs(name), project.stats, memo);
          const now = pending instanceof Promise ? await pending : pending;
          if (!now) reasons.push(`output missing: ${name}`);
          else if (now.hash !== info.hash) reasons.push(`output changed: ${name}`);
        } else if (!(await project.store.present(info.hash))) reasons.push(`output missing: ${name}`);
      }
    }
    for (const u of staleUps) reasons.push(`upstream stale: ${u}`);
    const isStale = reasons.length > 0;
    stale.set(id, isStale);
    out.push({ id, stage: inst.stage, stale: isStale, reasons: reasons.length > 1 ? dedupe(reasons) : reasons, fingerprint: c.fingerprint });
  }
  await fps?.save(p.order);
  await project.stats.save();
  const wanted = new Set(ids);
  return out.filter((s) => wanted.has(s.id));
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
