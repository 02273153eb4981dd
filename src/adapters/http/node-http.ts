import { createRequire } from 'node:module';
import type * as Http from 'node:http';

// node:http through require, not an ESM import: building the ESM namespace reads every export, and on Node 24
// that runs the lazy WebSocket/CloseEvent/MessageEvent getters, which load undici and web streams (measured:
// 61.5 vs 47.6 MB RSS for a bare server; ~2 MB in the whole sidecar). A listener never needs them.
const http = createRequire(import.meta.url)('node:http') as typeof Http;

export const createServer: typeof Http.createServer = http.createServer;
