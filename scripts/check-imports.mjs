#!/usr/bin/env node
// Checks the relative-import graph of src/ and of the console (web/src): no import runs up the layers of
// docs/adr/0004-layers-point-down.md, and no module imports itself back through others (a cycle).
// Run directly (exit 1 on findings) or through test/lint/import-graph.test.ts, which runs it in the test command.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/ folders from the bottom up; a folder may import its own and lower layers only. Keep in step with eslint.config.js. */
export const LAYERS = [
  ['domain', 'logs'],
  // vulnerabilities/ reads feeds (files, zips, URLs) into the domain's advisory index.
  ['store', 'artifacts', 'toe', 'vulnerabilities'],
  // Prometheus metrics, health and readiness: the registry, store-read gauges and the probe routes. Producers never
  // import it (they offer callbacks); it sits low so that it needs nothing above the store's role interfaces.
  ['metrics'],
  // Resource families (docs/adr/0006-resource-families.md): the versioned-resource operations over the store.
  ['resources'],
  ['drivers', 'registry'],
  ['builder'],
  ['events', 'lifecycle', 'pipelines'],
  ['service'],
  ['api'],
  ['app'],
  ['cli'],
];

/**
 * Sub-folders a layer keeps apart, as [from, to] under src/: production code in `from` may not import `to`. The AWS
 * wire (api/aws) must not know Kiln's own routes (docs/adr/0005-api-and-store-split.md). Keep in step with eslint.config.js.
 */
export const APART = [['api/aws', 'api/kiln']];

/**
 * Cycles known and left for a bigger refactor, each as its sorted member list joined by ' | ' and a reason.
 * A listed cycle that no longer exists is reported too, so this list only shrinks.
 */
export const ALLOWED_CYCLES = new Map([]);

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names: NodeNext `.js` for `.ts` in src/, extensionless in the console. */
function resolve(from, spec) {
  const base = path.join(path.dirname(from), spec);
  const stem = base.replace(/\.(js|jsx|mjs)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.tsx`, path.join(base, 'index.ts'), path.join(base, 'index.tsx')]) {
    if (/\.tsx?$/.test(c) && existsSync(c)) return c;
  }
  return undefined; // CSS, .mjs scripts, JSON: not part of the graph
}

/** Every relative import between TypeScript files under `dirs` (relative to `root`), as repository-relative paths. */
export function importGraph(root, dirs) {
  const graph = new Map();
  for (const dir of dirs) {
    for (const file of walk(path.join(root, dir))) {
      const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
      const to = new Set();
      for (const m of text.matchAll(IMPORT)) {
        const target = resolve(file, m[1] ?? m[2]);
        if (target) to.add(path.relative(root, target));
      }
      graph.set(path.relative(root, file), [...to]);
    }
  }
  return graph;
}

const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i])));

/** Imports of src/ production code that reach a folder of the same or a higher layer, or cross an APART pair (tests may import anything). */
export function upwardImports(graph) {
  const out = [];
  for (const [from, tos] of graph) {
    const [top, folder] = from.split(path.sep);
    // Test code may import anything: test files, and the conformance suites and fixtures in testsuite/ folders.
    if (top !== 'src' || /\.test\.tsx?$/.test(from) || from.split(path.sep).includes('testsuite')) continue;
    for (const to of tos) {
      const [toTop, toFolder] = to.split(path.sep);
      if (toTop !== 'src' || toFolder === folder) continue;
      const a = layerOf.get(folder);
      const b = layerOf.get(toFolder);
      if (a === undefined || b === undefined || b >= a) out.push(`${from} -> ${to}`);
    }
    for (const [a, b] of APART) {
      const under = (f, dir) => f.startsWith(path.join('src', dir) + path.sep);
      if (!under(from, a)) continue;
      for (const to of tos) if (under(to, b)) out.push(`${from} -> ${to}`);
    }
  }
  return out;
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan, iterative). */
export function cycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const out = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, 0]];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      const edges = graph.get(v) ?? [];
      if (i < edges.length) {
        frame[1]++;
        const w = edges[i];
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === index.get(v)) {
        const scc = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort().join(' | '));
      }
    }
  }
  return out.sort();
}

/** Everything wrong with the tree at `root`: upward imports, cycles not allow-listed, allow-list entries now gone. */
export function checkImports(root) {
  const graph = importGraph(root, ['src', 'web/src']);
  const found = cycles(graph);
  return {
    files: graph.size,
    upward: upwardImports(graph),
    cycles: found.filter((c) => !ALLOWED_CYCLES.has(c)),
    staleAllowances: [...ALLOWED_CYCLES.keys()].filter((c) => !found.includes(c)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const r = checkImports(root);
  for (const u of r.upward) console.log(`upward import: ${u}`);
  for (const c of r.cycles) console.log(`import cycle: ${c}`);
  for (const c of r.staleAllowances) console.log(`allow-listed cycle no longer exists, remove it: ${c}`);
  console.log(`${r.files} files checked`);
  process.exitCode = r.upward.length + r.cycles.length + r.staleAllowances.length > 0 ? 1 : 0;
}
