/** `conno dag`: the stage graph as text, Mermaid or Graphviz dot. */
import type { Pipeline } from '../pipeline/model.js';

export function renderDag(p: Pipeline, format: 'text' | 'mermaid' | 'dot', instances: boolean): string {
  const nodes: string[] = instances ? [...p.order] : [...p.stages.keys()];
  const edges = new Set<string>();
  for (const id of p.order) {
    const inst = p.instances.get(id)!;
    for (const u of inst.upstream) {
      const from = instances ? u.id : p.instances.get(u.id)!.stage;
      const to = instances ? id : inst.stage;
      edges.add(`${from}\0${to}`);
    }
  }
  const pairs = [...edges].map((e) => e.split('\0') as [string, string]);
  const label = (n: string) => {
    if (instances) return n;
    const g = p.stages.get(n)!;
    return g.instances.length > 1 ? `${n} ×${g.instances.length}` : n;
  };
  switch (format) {
    case 'text': {
      const lines: string[] = [];
      for (const n of instances ? nodes : stageOrder(p)) {
        const ups = pairs.filter(([, to]) => to === n).map(([from]) => from);
        lines.push(ups.length ? `${label(n)}  ← ${ups.join(', ')}` : label(n));
      }
      return lines.join('\n');
    }
    case 'mermaid': {
      const id = new Map(nodes.map((n, i) => [n, `n${i}`]));
      const lines = ['flowchart TD'];
      for (const n of nodes) lines.push(`  ${id.get(n)}["${label(n).replace(/"/g, '#quot;')}"]`);
      for (const [a, b] of pairs) lines.push(`  ${id.get(a)} --> ${id.get(b)}`);
      return lines.join('\n');
    }
    case 'dot': {
      const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      const lines = ['digraph conno {', '  rankdir=TB;', '  node [shape=box];'];
      for (const n of nodes) lines.push(`  ${q(n)} [label=${q(label(n))}];`);
      for (const [a, b] of pairs) lines.push(`  ${q(a)} -> ${q(b)};`);
      lines.push('}');
      return lines.join('\n');
    }
  }
}

/** Stages in the order their first instance appears in the topological order. */
function stageOrder(p: Pipeline): string[] {
  const seen = new Set<string>();
  for (const id of p.order) seen.add(p.instances.get(id)!.stage);
  return [...seen];
}
