/**
 * Canonical JSON: sorted keys, no whitespace, so equal values give equal text whatever their key order. It is what
 * run ids are hashed over (sweep/plan.ts) and what resume checks compare configs with (run/run_directory.ts): one
 * implementation, so "the same config" means the same thing to both.
 *
 * `undefined` is treated as JSON.stringify treats it, which is what a value read back from disk looks like: an
 * object key holding undefined is left out, an array element that is undefined becomes null.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
