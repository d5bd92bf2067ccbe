/**
 * node:http, loaded through `require`. An ES-module import of node:http builds
 * its namespace from every export, which evaluates the lazy `WebSocket`,
 * `CloseEvent` and `MessageEvent` getters and so loads Node's bundled undici:
 * ~12 MiB resident (its source, code and binary pages) that nothing here uses.
 * Import node:http from here; `import type` from 'node:http' stays free.
 */
import { createRequire } from 'node:module';
import type * as NodeHttp from 'node:http';

export const http = createRequire(import.meta.url)('node:http') as typeof NodeHttp;
