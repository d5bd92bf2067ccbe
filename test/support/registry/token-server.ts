/**
 * A minimal Docker token server for the real registry's `auth: token` mode:
 * GET /token?service=…&scope=repository:<name>:<actions> answers a JWT (ES256,
 * x5c header with the signing certificate, which the registry trusts through
 * its rootcertbundle). Valid basic credentials get every requested action;
 * anonymous callers get `pull` on repositories under `public/` only.
 */
import http from 'node:http';
import { createPrivateKey, sign, X509Certificate, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

export interface TokenServer {
  realm: string;
  requests: Array<{ scope: string[]; user?: string; authorized: boolean }>;
  stop(): Promise<void>;
}

export async function startTokenServer(options: { certFile: string; keyFile: string; user: string; password: string;
  service: string; issuer: string; expiresIn?: number }): Promise<TokenServer> {
  const key = createPrivateKey(await readFile(options.keyFile));
  const certDer = new X509Certificate(await readFile(options.certFile)).raw.toString('base64');
  const requests: TokenServer['requests'] = [];
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const auth = req.headers.authorization;
    let user: string | undefined;
    let valid = false;
    if (auth?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      user = u;
      valid = u === options.user && p === options.password;
      if (!valid) {
        requests.push({ scope: scopes, user, authorized: false });
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
    }
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      const granted = valid ? actions.split(',') : name.startsWith('public/') ? ['pull'] : [];
      return { type, name, actions: granted };
    });
    requests.push({ scope: scopes, user, authorized: valid });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer] };
    const claims = {
      iss: options.issuer, sub: user ?? '', aud: options.service, exp: now + (options.expiresIn ?? 300),
      nbf: now - 10, iat: now, jti: randomUUID(), access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, expires_in: options.expiresIn ?? 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
