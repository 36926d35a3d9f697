// Types of what scripts/setup.mjs exports (plain JavaScript: it runs before node_modules exists).
export function buildSignalGuard(options?: { addon?: string; compiler?: string; headers?: string }): { ok: true } | { ok: false; reason: string };
export function signalGuardState(): 'current' | 'stale' | 'missing';
export function main(): void;
