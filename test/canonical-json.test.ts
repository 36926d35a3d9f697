// Canonical JSON has one implementation (src/io/canonical_json.ts) with two users that must agree: the run id's hash
// (sweep/plan.ts) and the resume check's config comparison (run/run_directory.ts). Configs built in memory can hold
// undefined keys that a config read back from disk never has, so that is where two copies used to disagree.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/io/canonical_json.ts';
import { diffConfig } from '../src/run/run_directory.ts';
import { runName } from '../src/run/run_name.ts';

describe('canonical JSON', () => {
  it('ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('reads undefined as a JSON round trip does: keys left out, array elements null', () => {
    const values: unknown[] = [
      { a: undefined, b: 1 },
      { a: { x: undefined, y: [1, undefined, { z: undefined }] } },
      [undefined, { k: undefined }],
      { nested: { deeper: { gone: undefined, kept: null } } },
    ];
    for (const value of values) {
      expect(canonicalJson(value)).toBe(canonicalJson(JSON.parse(JSON.stringify(value))));
      expect(() => JSON.parse(canonicalJson(value))).not.toThrow();
    }
  });

  it('run ids and resume checks agree on which configs are the same, undefined and nested keys included', () => {
    const base = { game: 'pong', optimizer: 'adamw' as const, weightDecay: 1e-4, seed: 0, preset: 'reduced' as const };
    const overrides = [
      {},
      { iterations: undefined },
      { iterations: 5 },
      { iterations: 5, trainingSteps: undefined },
      { trainingSteps: 5, iterations: 5 },
      { trainingSteps: 5 },
    ];
    for (const a of overrides) {
      for (const b of overrides) {
        const sameId = runName({ ...base, overrides: a }) === runName({ ...base, overrides: b });
        const sameConfig = diffConfig({ ...base, overrides: a }, { ...base, overrides: b }).length === 0;
        // The resume check compares a config written to disk (a JSON round trip) with one built in memory.
        const sameAfterDisk = diffConfig(JSON.parse(JSON.stringify({ ...base, overrides: a })), { ...base, overrides: b }).length === 0;
        expect([sameConfig, sameAfterDisk], `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toEqual([sameId, sameId]);
      }
    }
    // Inside arrays, where diffConfig compares canonical text rather than walking keys.
    expect(diffConfig({ list: [{ a: 1, b: undefined }] }, JSON.parse(JSON.stringify({ list: [{ a: 1 }] })))).toEqual([]);
    expect(diffConfig({ list: [{ a: 1 }] }, { list: [{ a: 2 }] })).toHaveLength(1);
  });
});
