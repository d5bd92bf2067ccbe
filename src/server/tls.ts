/**
 * Serving certificate from files, reloaded without restart when the files
 * change (cert-manager rotation): the pair is read, checked by building a
 * SecureContext, and swapped into the running server with setSecureContext.
 * A half-written or mismatched pair is rejected and the old one keeps serving.
 */
import { readFile } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { watchPaths, type Watcher, type WatchOptions } from './watch.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** TLS 1.2 is the floor for the admission listener. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  // Throws on unparsable PEM or a key that does not match the certificate.
  createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION });
  return { cert, key };
}

export function watchTls(server: HttpsServer, files: TlsFiles, logger: Logger | undefined, options: WatchOptions = {}): Watcher {
  return watchPaths([files.certFile, files.keyFile], () => {
    loadTlsMaterial(files).then(
      (m) => {
        server.setSecureContext({ cert: m.cert, key: m.key, minVersion: MIN_TLS_VERSION });
        logger?.info({ cert: files.certFile }, 'serving certificate reloaded');
      },
      (err: unknown) => {
        logger?.warn({ cert: files.certFile, reason: err instanceof Error ? err.message : String(err) },
          'serving certificate change not applied; keeping the current certificate');
      },
    );
  }, options);
}
