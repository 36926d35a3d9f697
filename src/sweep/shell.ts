// Quoting for values placed into generated shell scripts (the Slurm job script).

/**
 * One POSIX-shell word that expands to exactly `value`: single quotes, with each ' written as '\''. Inside single
 * quotes nothing is special ($, `, \, !, globbing, spaces, newlines), so any string round trips. NUL cannot be
 * passed to a program at all, so it is refused. Plain words are left bare, for readability.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error(`cannot place a NUL character in a shell script: ${JSON.stringify(value)}`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
