/**
 * `conno status`: which instances are stale and exactly why, without running anything.
 * Reads hashes through the stat cache and checks cache objects by existence only, so a no-op
 * status over thousands of stages stays fast.
 */
import type { Project } from './project.js';
import { computeInstance, describeDepChange, explainChange, isAtOrUnder, pathOfKey } from './state.js';
import { hashPathMemo, type PathMemo } from '../hash/tree.js';
import type { Fingerprint } from '../hash/types.js';

export interface InstanceStatus {
  id: string;
  stage: string;
  stale: boolean;
  reasons: string[];
  fingerprint?: Fingerprint;
}

export async function computeStatus(project: Project, ids: string[]): Promise<InstanceStatus[]> {
  const p = project.pipeline;
  const lock = project.lock.stages;
  const stale = new Map<string, boolean>();
  const out: InstanceStatus[] = [];
  const entryOf = (id: string) => lock[id];
  // Status changes nothing, so each path needs looking at only once.
  const memo: PathMemo = new Map();
  for (const id of project.withUpstream(ids)) {
    const inst = p.instances.get(id)!;
    const reasons: string[] = [];
    const c = await computeInstance(project, inst, entryOf, project.root, memo);
    const entry = lock[id];
    const staleUps: string[] = [];
    for (const u of inst.upstream) if (stale.get(u.id)) staleUps.push(u.id);
    // Inputs an upstream is about to (re)write are not "missing"; the upstream's staleness says it.
    const upstreamOwned = (key: string) =>
      staleUps.some((u) => key.startsWith(`${u}:`) || p.instances.get(u)!.outs.some((o) => isAtOrUnder(pathOfKey(key), o)));
    if (!entry) reasons.push('new');
    else if (entry.fingerprint !== c.fingerprint) {
      const why = await explainChange(project, entry, c, (k, a, b) => describeDepChange(project, k, a, b));
      reasons.push(...why.filter((r) => !staleUps.length || !/^input (changed|missing|removed|added): /.test(r) || !upstreamOwned(r.replace(/^input \w+: /, '').replace(/ \(.*$/, ''))));
    }
    for (const m of c.missing) if (!upstreamOwned(m) && !inst.upstream.some((u) => m.startsWith(`${u.id}:`))) reasons.push(`input missing: ${m}`);
    if (entry) {
      for (const [name, info] of Object.entries(entry.outs ?? {})) {
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
  await project.stats.save();
  const wanted = new Set(ids);
  return out.filter((s) => wanted.has(s.id));
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
