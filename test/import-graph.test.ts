// The rule that keeps `--help`, `--status`, table1 and the report fast (and usable where TensorFlow is broken):
// the command-line front ends, the sweep and the analysis never load TensorFlow. A CLI may reach training code
// only through `await import(...)` once it has decided to train; the sweep and the analysis not even that way.
// Beside it, the shape of the graph: imports run down the layers, no modules import each other (through any
// number of others, types included), and the optimizer module stands alone on the TensorFlow loader.
// Read from the source text, so the test needs no TensorFlow itself.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Import specifiers of a module: static `import … from`, `export … from`, bare `import '…'`; type-only ones left out. */
function imports(file: string): { static: string[]; dynamic: string[] } {
  const text = fs.readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const statics = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gms)].map((m) => m[1]);
  const dynamics = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
  return { static: statics, dynamic: dynamics };
}

function loadsTensorFlow(specifier: string, resolved: string | null): boolean {
  return specifier.startsWith('@tensorflow/') || (resolved !== null && path.relative(ROOT, resolved).startsWith(path.join('src', 'tf')));
}

/** The chain of modules from `entry` to TensorFlow, or null. Follows dynamic imports too when `dynamic`. */
function pathToTensorFlow(entry: string, dynamic: boolean): string[] | null {
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): string[] | null => {
    if (seen.has(file)) return null;
    seen.add(file);
    const found = imports(file);
    for (const spec of dynamic ? [...found.static, ...found.dynamic] : found.static) {
      const resolved = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : null;
      if (loadsTensorFlow(spec, resolved)) return [...chain, spec];
      if (resolved !== null) {
        const hit = walk(resolved, [...chain, path.relative(ROOT, resolved)]);
        if (hit !== null) return hit;
      }
    }
    return null;
  };
  return walk(entry, [path.relative(ROOT, entry)]);
}

/** The layers, bottom to top (README, Layout): a module may import from its own layer or one below, never above. */
function layerOf(relative: string): number {
  if (relative.startsWith('src/io/') || ['src/format.ts', 'src/tf.ts', 'src/tf_env.ts', 'src/tf_native.ts', 'src/signal_guard.ts', 'src/stderr_filter.ts', 'src/backend.mjs', 'src/paths.mjs'].includes(relative)) return 0;
  if (relative.startsWith('envs/') || relative.startsWith('src/optim/') || relative === 'src/paper.ts') return 1;
  if (relative.startsWith('agents/')) return 2;
  if (relative.startsWith('src/run/')) return 3;
  if (relative.startsWith('src/sweep/')) return 4;
  if (relative.startsWith('src/analysis/')) return 5;
  if (relative.startsWith('src/cli/')) return 6;
  throw new Error(`${relative} is in no layer: add it to layerOf and to the README's layout`);
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(ROOT, dir, e.name)] : [],
  );
}

/** Every import of a module, type-only ones included (they shape the structure as much). */
function allImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  return [...text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gms), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
}

/** Every module of src/, envs/ and agents/ → the modules it imports (paths from the root), type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ['src', 'envs', 'agents'].flatMap(sourceFiles)) {
    const targets = allImports(file).filter((s) => s.startsWith('.')).map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s)));
    graph.set(path.relative(ROOT, file), targets);
  }
  return graph;
}

/**
 * The import cycles of a graph, of any length: its strongly connected components (Tarjan) of more than one module,
 * or of one module that imports itself; each sorted.
 */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** What the optimizer module may import besides itself: the TensorFlow loader. */
const OPTIM_MAY_IMPORT = ['src/tf.ts', 'src/tf_native.ts'];

const modulesIn = (dir: string) =>
  fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, dir, f));

describe('import graph', () => {
  it('reads static, re-exported and dynamic imports, and skips type-only ones', () => {
    const found = imports(path.join(ROOT, 'src/cli/atari.ts'));
    expect(found.dynamic).toContain('../run/trainer.ts');
    expect(imports(path.join(ROOT, 'src/tf.ts')).static).toEqual(['./tf_env.ts', './signal_guard.ts', 'node:module', '@tensorflow/tfjs', './backend.mjs', './stderr_filter.ts', '@tensorflow/tfjs']);
    // A module known to load TensorFlow is found to, through its chain: the check can fail.
    expect(pathToTensorFlow(path.join(ROOT, 'src/run/trainer.ts'), false)).not.toBeNull();
    expect(pathToTensorFlow(path.join(ROOT, 'src/cli/atari.ts'), true)).not.toBeNull();
  });

  it('no import runs up the layers', () => {
    const upward: string[] = [];
    const files = ['src', 'envs', 'agents'].flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      const from = path.relative(ROOT, file);
      for (const spec of allImports(file).filter((s) => s.startsWith('.'))) {
        const to = path.relative(ROOT, path.resolve(path.dirname(file), spec));
        if (layerOf(to) > layerOf(from)) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('no modules import each other, directly or through others (type-only imports included)', () => {
    // The finder sees a cycle of any length, and only cycles: the check can fail.
    expect(importCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]))).toEqual([['a', 'b', 'c'], ['e']]);
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(importCycles(graph)).toEqual([]);
  });

  it('src/optim imports only from itself and the TensorFlow loader', () => {
    const outside: string[] = [];
    for (const [from, targets] of importGraph()) {
      if (!from.startsWith('src/optim/')) continue;
      for (const to of targets) if (!to.startsWith('src/optim/') && !OPTIM_MAY_IMPORT.includes(to)) outside.push(`${from} -> ${to}`);
    }
    // Packages too: TensorFlow itself only through the loader.
    for (const file of sourceFiles('src/optim')) {
      for (const spec of allImports(file).filter((s) => !s.startsWith('.'))) outside.push(`${path.relative(ROOT, file)} -> ${spec}`);
    }
    expect(outside).toEqual([]);
  });

  it('the CLIs load TensorFlow only through a dynamic import', () => {
    for (const file of modulesIn('src/cli')) expect(pathToTensorFlow(file, false), path.relative(ROOT, file)).toBeNull();
  });

  it('the sweep and the analysis never load TensorFlow, not even dynamically', () => {
    for (const file of [...modulesIn('src/sweep'), ...modulesIn('src/analysis')]) {
      expect(pathToTensorFlow(file, true), path.relative(ROOT, file)).toBeNull();
    }
  });

  it('the runner (src/run/trainer.ts) does not import TensorFlow itself, only modules that use it (the agent, TensorBoard)', () => {
    const trainer = path.join(ROOT, 'src/run/trainer.ts');
    const found = imports(trainer);
    const direct = [...found.static, ...found.dynamic].filter((spec) => loadsTensorFlow(spec, spec.startsWith('.') ? path.resolve(path.dirname(trainer), spec) : null));
    expect(direct).toEqual([]);
  });
});
