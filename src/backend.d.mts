// Types of backend.mjs (plain JavaScript, so that setup and doctor can use it before node_modules exists).

export type BackendName = 'cpu' | 'gpu';

export declare const BACKEND_ENV: 'WD_HARNESS_BACKEND';
export declare const BACKEND_PACKAGES: Readonly<{ cpu: '@tensorflow/tfjs-node'; gpu: '@tensorflow/tfjs-node-gpu' }>;

export declare class BackendError extends Error {}

export interface BackendRecord {
  backend: BackendName;
  [key: string]: unknown;
}

export interface BackendChoice {
  name: BackendName;
  packageName: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
  /** What chose it: `WD_HARNESS_BACKEND=…`, the record's path relative to the checkout, or `default`. */
  source: string;
  recordFile: string;
}

export declare function backendRecordPath(root?: string): string;
export declare function readBackendRecord(file?: string): BackendRecord | null;
export declare function writeBackendRecord(file: string, fields: Partial<BackendRecord> & { backend: BackendName }): BackendRecord;
export declare function resolveBackend(options?: { env?: NodeJS.ProcessEnv; root?: string }): BackendChoice;

export type DriverCheck = { found: true; library: string; gpus: string[] } | { found: false; reason: string };
export declare function findCudaDriver(options?: { env?: NodeJS.ProcessEnv }): DriverCheck;

export declare function parseTensorFlowDeviceLog(log: string): { gpus: string[]; reason: string | null };
export declare function bindingFile(packageDir: string): string | null;

export type Probe =
  | { ok: true; tfjs: string; tensorflow: string; backend: string; usingGpu: boolean; gpus: string[]; noGpuReason: string | null; log: string }
  | { ok: false; error: string; log: string };
export declare function probeBinding(options: { packageName: string; root?: string; timeoutMs?: number }): Probe;
