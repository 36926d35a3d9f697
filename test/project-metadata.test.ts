// The harness's license and citation metadata agree with each other and with package.json. (The CITATION.cff was
// also validated against the CFF 1.2.0 JSON schema with Python's yaml + jsonschema when it was written.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(REPO, file), 'utf8');

describe('license and citation', () => {
  const pkg = JSON.parse(read('package.json'));
  const cff = read('CITATION.cff');
  /** A top-level `key: value` of the CFF file (a plain scalar). */
  const top = (key: string) => new RegExp(`^${key}: (.+)$`, 'm').exec(cff)?.[1];

  it('LICENSE is the Apache License 2.0 with the harness authors\' copyright, as package.json says', () => {
    const license = read('LICENSE');
    expect(license).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    expect(license).toContain('   Copyright 2026 the wd-dqn-harness authors\n');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    expect(pkg.license).toBe('Apache-2.0');
  });

  it('CITATION.cff (CFF 1.2.0) names this software, its version and license, and references the paper', () => {
    expect(top('cff-version')).toBe('1.2.0');
    expect(top('type')).toBe('software');
    expect(top('version')).toBe(pkg.version);
    expect(top('license')).toBe(pkg.license);
    expect(cff).not.toMatch(/\t/); // YAML: spaces only
    const references = cff.slice(cff.indexOf('\nreferences:\n'));
    expect(references).toContain('title: Understanding Decoupled and Early Weight Decay');
    for (const name of ['Bjorck', 'Weinberger', 'Gomes']) expect(references).toContain(`family-names: ${name}`);
    expect(references).toContain('collection-title: Proceedings of the AAAI Conference on Artificial Intelligence');
    expect(references).toMatch(/volume: 35\n\s+issue: 8\n\s+start: 6777\n\s+end: 6785\n/);
    expect(references).toContain('year: 2021');
  });
});
