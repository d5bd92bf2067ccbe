#!/usr/bin/env node
// Installed entry point: the compiled CLI (npm run build) or, in a checkout, the TypeScript sources.
import { existsSync } from 'node:fs';
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
