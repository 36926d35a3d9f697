// Types of paths.mjs (plain JavaScript, so that setup and doctor can use it before node_modules exists).
export declare const REPO_ROOT: string;
export declare const VENV_PYTHON: string;
