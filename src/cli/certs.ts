/**
 * `portcullis certs --out DIR --dns NAME[,NAME] [--if-missing] [--days N]`:
 * writes ca.crt, tls.crt and tls.key (mode 0600) and prints the base64
 * caBundle for the webhook configuration.
 */
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCerts } from '../server/certgen.ts';

const USAGE = `usage: portcullis certs --out DIR --dns NAME[,NAME...] [--if-missing] [--days N]

  --out DIR       directory for ca.crt, tls.crt, tls.key
  --dns NAMES     serving certificate names (comma-separated or repeated), e.g.
                  portcullis.portcullis.svc,portcullis.portcullis.svc.cluster.local
  --if-missing    keep an existing tls.crt/tls.key pair untouched
  --days N        validity in days (default 365)

Prints the base64 caBundle for the (Validating|Mutating)WebhookConfiguration.`;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function runCertsCommand(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        dns: { type: 'string', multiple: true },
        'if-missing': { type: 'boolean', default: false },
        days: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`portcullis certs: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const names = (values.dns ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  const days = values.days === undefined ? 365 : Number(values.days);
  if (!values.out || names.length === 0 || !Number.isInteger(days) || days <= 0) {
    process.stderr.write(`portcullis certs: --out and --dns are required; --days must be a positive integer\n${USAGE}\n`);
    return 2;
  }
  const out = values.out;
  const paths = { ca: join(out, 'ca.crt'), cert: join(out, 'tls.crt'), key: join(out, 'tls.key') };

  if (values['if-missing'] && (await exists(paths.cert)) && (await exists(paths.key))) {
    process.stderr.write(`portcullis certs: ${paths.cert} and ${paths.key} exist; keeping them\n`);
    if (await exists(paths.ca)) process.stdout.write(`${(await readFile(paths.ca)).toString('base64')}\n`);
    return 0;
  }

  const certs = await generateCerts({ names, days });
  await mkdir(out, { recursive: true });
  await writeFile(paths.ca, certs.caCert, { mode: 0o644 });
  await writeFile(paths.cert, certs.cert, { mode: 0o644 });
  await writeFile(paths.key, certs.key, { mode: 0o600 });
  await chmod(paths.key, 0o600); // writeFile's mode only applies to new files
  process.stderr.write(`portcullis certs: wrote ${paths.ca}, ${paths.cert}, ${paths.key} for ${names.join(', ')}\n`);
  process.stdout.write(`${certs.caBundle}\n`);
  return 0;
}
