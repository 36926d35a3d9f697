// What every command line shares besides value parsing: `--version` (the harness's version from package.json)
// and the one-line notice a deprecated flag prints.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const PACKAGE_JSON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');

/** The harness's version, from package.json's "version" field. */
export function harnessVersion(): string {
  const version = (JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown }).version;
  if (typeof version !== 'string') throw new Error(`${PACKAGE_JSON} has no "version" string`);
  return version;
}

/**
 * Adds `-V, --version` (prints e.g. "wd-dqn-harness 0.1.0" and exits 0) and the same `-h, --help` wording to a
 * program, in its current options group; call it after the program's own options so both come last in --help.
 */
export function withVersion(program: Command): Command {
  return program
    .version(`wd-dqn-harness ${harnessVersion()}`, '-V, --version', 'print the harness version (package.json) and exit')
    .helpOption('-h, --help', 'show this help and exit');
}

/** Prints a deprecated flag's one-line notice through the program's error output (silenced where tests silence it). */
export function deprecationNotice(program: Command, oldFlag: string, newFlag: string, why = ''): void {
  const { writeErr } = program.configureOutput();
  (writeErr ?? ((s: string) => process.stderr.write(s)))(`notice: ${oldFlag} is deprecated here, use ${newFlag}${why ? ` (${why})` : ''}\n`);
}
