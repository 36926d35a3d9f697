// The rule that keeps `--help`, `--status`, table1 and the report fast (and usable where TensorFlow is broken):
// the command-line front ends, the sweep and the analysis never load TensorFlow. A CLI may reach training code
// only through `await import(...)` once it has decided to train; the sweep and the analysis not even that way.
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
  if (relative.startsWith('src/io/') || ['src/format.ts', 'src/tf.ts', 'src/tf_env.ts', 'src/tf_native.ts', 'src/signal_guard.ts', 'src/backend.mjs'].includes(relative)) return 0;
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

const modulesIn = (dir: string) =>
  fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, dir, f));

describe('import graph', () => {
  it('reads static, re-exported and dynamic imports, and skips type-only ones', () => {
    const found = imports(path.join(ROOT, 'src/cli/atari.ts'));
    expect(found.dynamic).toContain('../run/trainer.ts');
    expect(imports(path.join(ROOT, 'src/tf.ts')).static).toEqual(['./tf_env.ts', './signal_guard.ts', 'node:module', '@tensorflow/tfjs', './backend.mjs', '@tensorflow/tfjs']);
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

  it('the CLIs load TensorFlow only through a dynamic import', () => {
    for (const file of modulesIn('src/cli')) expect(pathToTensorFlow(file, false), path.relative(ROOT, file)).toBeNull();
  });

  it('the sweep and the analysis never load TensorFlow, not even dynamically', () => {
    for (const file of [...modulesIn('src/sweep'), ...modulesIn('src/analysis')]) {
      expect(pathToTensorFlow(file, true), path.relative(ROOT, file)).toBeNull();
    }
  });
});
