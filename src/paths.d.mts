// Types of paths.mjs (plain JavaScript, so that setup and doctor can use it before node_modules exists).
export declare const REPO_ROOT: string;
export declare const VENV_PYTHON: string;
export declare const SIGNAL_GUARD_SOURCE: string;
export declare const SIGNAL_GUARD_ADDON: string;
export declare const STDERR_FILTER_SOURCE: string;
export declare const STDERR_FILTER_ADDON: string;
