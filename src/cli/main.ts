#!/usr/bin/env node
/**
 * portcullis — command dispatcher. Each command lives in its own module and is
 * imported only when used, so `portcullis test` never loads the HTTP stack.
 */
const usage = `Usage: portcullis <command> [options]

Commands:
  serve        run the admission webhook (HTTPS) with the policies in --policies (default: policies/)
  test PATH…   run Kyverno CLI Test files (kyverno-test.yaml) found below each PATH
  apply        apply policies to resources offline: portcullis apply POLICY… --resource FILE…
  certs        generate a dev CA and serving certificate: portcullis certs --out DIR --dns NAME
  conformance  run every Test suite below DIR and write a per-folder report: --out FILE
  help         show this help
`;

type Command = (argv: string[]) => Promise<number> | number;

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.ts')).runServeCommand,
  certs: async () => (await import('./certs.ts')).runCertsCommand,
  test: async () => (await import('./test/index.ts')).runTestCommand,
  apply: async () => (await import('./apply.ts')).runApplyCommand,
  conformance: async () => (await import('./conformance.ts')).runConformanceCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`portcullis: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  return (await load())(rest);
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`portcullis: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
