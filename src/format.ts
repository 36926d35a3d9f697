/**
 * How numbers are written for people, the same way in every log, status line, table and run id: step counts,
 * durations and weight-decay values. Run ids contain formatLambda's text, so changing it changes every id.
 * Also shell words: paths in generated scripts and in the commands the CLIs print for pasting (shellQuote), and the
 * "did you mean" of a mistyped name (closestNames). And the one way numbers are read back from people (decimalNumber).
 */

/** 950, 12.5k, 1.25M. */
export function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

/** 42s, 1m18s, 3h01m, 2d5h: the two largest units, compact enough for a progress line; '?' if unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** λ for ids, tables and messages: 0, 1e-4, 2.5e-4 (the shortest exact exponential form, no '+'). */
export function formatLambda(lambda: number): string {
  if (lambda === 0) return '0';
  return lambda.toExponential().replace('e+', 'e');
}

/**
 * One POSIX-shell word that expands to exactly `value`, for the Slurm job script and for the commands the CLIs print
 * to paste (a run directory with a space, or `$(…)` in it, must neither split nor run anything): single quotes, with
 * each ' written as '\''. Inside single quotes nothing is special ($, `, \, !, globbing, spaces, newlines), so any
 * string round trips. NUL cannot be passed to a program at all, so it is refused. Plain words are left bare.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error(`cannot place a NUL character in a shell word: ${JSON.stringify(value)}`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Levenshtein distance: insertions, deletions and substitutions, each 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The choices closest to a mistyped `name`, best first: a prefix of at least 3 characters counts as close whatever
 * its distance ('space' → space_invaders), the others within max(2, a third of the choice's length); a choice that
 * differs only in spelling (`key` folds case, and for games separators) is the only one named.
 */
export function closestNames(name: string, choices: readonly string[], count: number, key: (s: string) => string = (s) => s.toLowerCase()): string[] {
  const wanted = key(name);
  const same = choices.filter((choice) => key(choice) === wanted);
  if (same.length > 0) return same.slice(0, count); // only the spelling differs: that is the one meant
  return choices
    .map((choice) => {
      const k = key(choice);
      return { choice, k, distance: k.startsWith(wanted) && wanted.length >= 3 ? 0 : editDistance(wanted, k) };
    })
    .filter(({ distance, k }) => distance <= Math.max(2, Math.floor(k.length / 3)))
    .sort((a, b) => a.distance - b.distance || a.choice.localeCompare(b.choice))
    .slice(0, count)
    .map(({ choice }) => choice);
}

// Decimal and exponent forms only: Number() alone would also read 0x10 as 16, 0b11 as 3, and '' as 0.
const DECIMAL_NUMBER = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** A number written in decimal or exponent form (1e-4, 0.5, 3) and finite, else null. Every CLI reads numbers so. */
export function decimalNumber(text: string): number | null {
  if (!DECIMAL_NUMBER.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
