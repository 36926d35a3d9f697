// Types of what scripts/setup.mjs exports (plain JavaScript: it runs before node_modules exists).
export interface NativeAddon {
  label: string;
  source: string;
  addon: string;
  does: string;
  without: string;
}
export const NATIVE_ADDONS: { signalGuard: NativeAddon; stderrFilter: NativeAddon };
export function buildAddon(source: string, options: { addon: string; compiler?: string; headers?: string }): { ok: true } | { ok: false; reason: string };
export function addonState(spec: Pick<NativeAddon, 'source' | 'addon'>): 'current' | 'stale' | 'missing';
export function main(): void;
