// Types for scripts/tools.mjs (a plain script, so `node scripts/provision.mjs` works before any build).
export interface Tool { name: string; apt: string; candidates: string[]; usedBy: string; probe?: (bin: string) => string | undefined }
export declare const TOOLS: readonly Tool[];
/** Absolute path of a tool (an <NAME>_BIN environment override wins), or undefined. */
export declare function findTool(name: string): string | undefined;
export declare function checkTool(name: string): { path?: string; problem?: string };
