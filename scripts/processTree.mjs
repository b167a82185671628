// The processes under one process (Linux /proc): PostgreSQL's server and its backends, a collector and its
// workers. Used by the benchmark (CPU of a whole tree) and by the embedded PostgreSQL (killing one).
import { readdirSync, readFileSync } from 'node:fs';

/** `pid` and every process under it, read from /proc now; processes that end meanwhile are left out. */
export function processTree(pid) {
  const children = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const parent = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(p)]);
    } catch {
      // gone meanwhile
    }
  }
  const all = [];
  for (const todo = [pid]; todo.length; ) {
    const p = todo.pop();
    all.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return all;
}
