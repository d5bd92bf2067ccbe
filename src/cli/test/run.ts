/**
 * Run one Test file: load its values, user info, policies and resources
 * (paths relative to the Test file), evaluate, and match the expectations.
 * Never throws: anything that prevents the Test from running is reported in
 * `error`; problems that only affect some expectations (a policy that failed
 * to load) are `warnings` and show up as "Not found" rows.
 */
import { dirname, resolve } from 'node:path';
import type { ContextResolver, JsonObject, KubeObject, Operation } from '../../engine/types.ts';
import type { CompiledExceptions } from '../../engine/exceptions.ts';
import { defaultDeps, type CliDeps } from './deps.ts';
import { describeResource, loadResourceFile, loadResourceFiles, pickResource, removeDuplicates, type ResourceIdentity } from '../resources.ts';
import { readTestFile, readYamlFile } from './discover.ts';
import { PolicyRunner, type ResourceOutcome } from './evaluate.ts';
import { evaluateChecks } from './checks.ts';
import { matchExpectations, type ResultRow } from './match.ts';
import { parseUserInfo, parseValues, type RequestUserInfo, type TestExpectation, type TestSpec, type ValuesSpec } from './spec.ts';
import { applySelector, type TestCaseSelector } from './selector.ts';
import { matchWildcard } from '../../engine/wildcard.ts';

export interface TestCaseReport {
  /** Path of the Test file. */
  path: string;
  name: string;
  rows: ResultRow[];
  /** The Test could not run (bad file, unreadable values…): counted as a failure. */
  error?: string;
  warnings: string[];
  /** Progress lines, as `kyverno test` prints them. */
  log: string[];
  policyCount: number;
  resourceCount: number;
}

export interface RunOptions {
  selector?: TestCaseSelector;
  /** Loader and engine; the real ones by default. */
  deps?: CliDeps;
}

/** Offline answers to external context: nothing is reachable from a test run. */
export const offlineResolver: ContextResolver = {
  configMap: () => undefined,
  apiCall: (call) => {
    throw new Error(`API call ${call.urlPath ?? ''} is not available offline; provide the value in the Values file`);
  },
  imageData: (ref) => {
    throw new Error(`image data for ${ref} is not available offline; provide the value in the Values file`);
  },
  globalContext: (name) => {
    throw new Error(`global context entry ${name} is not available offline; provide the value in the Values file`);
  },
};

export async function runTestFile(path: string, options: RunOptions = {}): Promise<TestCaseReport> {
  let spec: TestSpec;
  try {
    spec = await readTestFile(path);
  } catch (e) {
    return { path, name: '', rows: [], error: (e as Error).message, warnings: [], log: [], policyCount: 0, resourceCount: 0 };
  }
  return runTestSpec(path, spec, options);
}

export async function runTestSpec(path: string, spec: TestSpec, options: RunOptions = {}): Promise<TestCaseReport> {
  const report: TestCaseReport = { path, name: spec.name, rows: [], warnings: [], log: [], policyCount: 0, resourceCount: 0 };
  const dir = dirname(path);
  const rel = (p: string) => resolve(dir, p);
  report.log.push(`Loading test ${spec.name} ( ${path} ) ...`);
  try {
    const expectations = options.selector ? applySelector(spec.results, options.selector) : spec.results;

    report.log.push('  Loading values/variables ...');
    let values: ValuesSpec | undefined = spec.values;
    if (!values && spec.variables !== '') {
      try {
        values = parseValues(await readYamlFile(rel(spec.variables)));
      } catch (e) {
        throw new Error(`failed to decode yaml (Unable to load variable file: ${spec.variables} (${(e as Error).message}))`);
      }
    }
    let userInfo: RequestUserInfo | undefined;
    if (spec.userinfo !== '') {
      report.log.push('  Loading user infos ...');
      try {
        userInfo = parseUserInfo(await readYamlFile(rel(spec.userinfo)));
      } catch (e) {
        throw new Error(`failed to load request info (${(e as Error).message})`);
      }
    }

    // The Test's exceptions first: CEL PolicyExceptions are compiled into the policies they name.
    const testExceptions: KubeObject[] = [];
    const celExceptions: KubeObject[] = [];
    if (spec.exceptions.length > 0) {
      const { loadPolicyPaths } = await import('../../policy/load.ts');
      const ex = await loadPolicyPaths(spec.exceptions.map(rel));
      for (const e of ex.errors) report.warnings.push(`exception ${e.file}#${e.index} ${e.path}: ${e.reason}`);
      testExceptions.push(...ex.exceptions);
      celExceptions.push(...ex.celExceptions);
    }

    // Resources are read before the policies: with `paramResources`, they are what
    // MutatingAdmissionPolicy bindings' paramRef select (compiled into the policies).
    const res = await loadResourceFiles(spec.resources.map(rel));
    const paramRes = spec.paramResources.length > 0 ? await loadResourceFiles(spec.paramResources.map(rel)) : { resources: [], errors: [] };

    report.log.push('  Loading policies ...');
    const deps = options.deps ?? (await defaultDeps());
    const loaded = await deps.loadPolicies(spec.policies.map(rel), celExceptions, [...paramRes.resources, ...res.resources]);
    report.warnings.push(...loaded.warnings);
    const policies = loaded.policies;
    report.policyCount = policies.length;

    report.log.push('  Loading resources ...');
    if (res.errors.length > 0) throw new Error(`failed to load resources (${res.errors.map((e) => `${e.file}: ${e.reason}`).join('; ')})`);
    if (paramRes.errors.length > 0) throw new Error(`failed to load parameter resources (${paramRes.errors.map((e) => `${e.file}: ${e.reason}`).join('; ')})`);
    const { uniques, duplicates } = removeDuplicates(res.resources);
    for (const d of duplicates) report.log.push(`  warning: found duplicated resource ${describeResource(d)}`);
    report.resourceCount = uniques.length;

    const exceptionDocs = [...(loaded.exceptionDocs ?? []), ...testExceptions];
    let exceptions: CompiledExceptions | undefined;
    if (exceptionDocs.length > 0) {
      const { compileExceptions } = await import('../../engine/exceptions.ts');
      exceptions = compileExceptions(exceptionDocs);
      for (const e of exceptions.errors) report.warnings.push(`PolicyException ${e.exception}: ${e.reason}`);
    }

    report.log.push(`  Applying ${policies.length} ${policies.length === 1 ? 'policy' : 'policies'} to ${uniques.length} ${uniques.length === 1 ? 'resource' : 'resources'} ...`);
    let resolver: ContextResolver = offlineResolver;
    if (spec.context !== '') {
      // The Context file answers CEL's resource.* and image.* lookups offline.
      const ctx = await readYamlFile(rel(spec.context));
      const c = (ctx && typeof ctx === 'object' && !Array.isArray(ctx) ? (ctx as JsonObject).spec : undefined) as JsonObject | undefined;
      resolver = {
        ...offlineResolver,
        celLookups: {
          resources: Array.isArray(c?.resources) ? (c.resources as unknown as KubeObject[]) : [],
          images: Array.isArray(c?.images) ? (c.images as unknown as Array<{ image: string }>) : [],
        },
      };
    }
    // Generate rules' clone sources: the rows' cloneSourceResource files and the Test's clusterResources
    // (what Kyverno's CLI loads into its fake cluster).
    const cloneFiles = [...new Set([...spec.results.map((r) => r.cloneSourceResource).filter((f) => f !== ''), ...spec.clusterResources])];
    if (cloneFiles.length > 0) {
      const sources = await loadResourceFiles(cloneFiles.map(rel));
      if (sources.errors.length > 0) throw new Error(`failed to load clone sources (${sources.errors.map((e) => `${e.file}: ${e.reason}`).join('; ')})`);
      resolver = { ...resolver, ...cloneSourcesFrom(sources.resources) };
    }
    // Mutate-existing rules' targets: the objects of the Test's targetResources (Kyverno's CLI loads them
    // into its fake cluster, where the rules' `mutate.targets` find them).
    if (spec.targetResources.length > 0) {
      const targets = await loadResourceFiles(spec.targetResources.map(rel));
      if (targets.errors.length > 0) throw new Error(`failed to load target resources (${targets.errors.map((e) => `${e.file}: ${e.reason}`).join('; ')})`);
      resolver = { ...resolver, ...targetResourcesFrom(targets.resources) };
    }
    const old = spec.oldResources.length > 0 ? await loadResourceFiles(spec.oldResources.map(rel)) : { resources: [], errors: [] };
    if (old.errors.length > 0) throw new Error(`failed to load old resources (${old.errors.map((e) => `${e.file}: ${e.reason}`).join('; ')})`);
    // Rows with a resourceOperation are checked against the resources admitted with that
    // operation; the others against the operation the Values give (CREATE by default).
    const byOperation = new Map<Operation | undefined, TestExpectation[]>();
    for (const e of expectations) {
      const group = byOperation.get(e.resourceOperation);
      if (group) group.push(e);
      else byOperation.set(e.resourceOperation, [e]);
    }
    if (!byOperation.has(undefined)) byOperation.set(undefined, []);
    const evaluateAll = async (operation: Operation | undefined) => {
      const runner = new PolicyRunner(policies, {
        values, userInfo, resolver, createEngine: deps.createEngine, oldResources: old.resources,
        ...(exceptions ? { exceptions } : {}), ...(operation ? { operationFor: () => operation } : {}),
      });
      const out: ResourceOutcome[] = [];
      for (const r of uniques) out.push(await runner.evaluate(r));
      return out;
    };
    const outcomes = await evaluateAll(undefined);

    report.log.push('  Checking results ...');
    // Expected-resource files are parsed once per Test, whatever the number of rows using them.
    const files = new Map<string, Promise<KubeObject[]>>();
    const loadExpected = async (file: string, id: ResourceIdentity) => {
      let docs = files.get(file);
      if (!docs) files.set(file, (docs = loadResourceFile(rel(file))));
      return pickResource(await docs, id);
    };
    const rows = await matchExpectations(byOperation.get(undefined)!, outcomes, loadExpected);
    for (const [operation, group] of byOperation) {
      if (operation !== undefined) rows.push(...await matchExpectations(group, await evaluateAll(operation), loadExpected));
    }
    // In the Test's order, numbered from 1.
    rows.sort((a, b) => a.expectation - b.expectation || a.id - b.id);
    report.rows = rows.map((r, i) => ({ ...r, id: i + 1 }));
    if (spec.checks.length > 0 && !options.selector) report.rows.push(...evaluateChecks(spec.checks, outcomes, report.rows.length + 1));
    // Say why a policy has no response when its kind is one the engine does not evaluate.
    for (const row of report.rows) {
      const kind = row.reason === 'Not found' ? loaded.unsupported?.get(row.policy.slice(row.policy.indexOf('/') + 1)) : undefined;
      if (kind !== undefined) row.message = `policy ${row.policy} is a ${kind}, which is not supported`;
    }
  } catch (e) {
    report.error = (e as Error).message;
  }
  return report;
}

/** Mutate-existing target lookups over a fixed set of objects: those of the kind and apiVersion (wildcards allowed, '' = any). */
export function targetResourcesFrom(objects: readonly KubeObject[]): Pick<ContextResolver, 'targetResources'> {
  return {
    targetResources: (apiVersion, kind) => objects.filter((o) => (kind === '' || matchWildcard(kind, o.kind ?? ''))
      && (apiVersion === '' || matchWildcard(apiVersion, o.apiVersion ?? ''))),
  };
}

/** Clone lookups over a fixed set of objects: by kind, namespace and name (clone), or all of a namespace (cloneList). */
export function cloneSourcesFrom(objects: readonly KubeObject[]): Pick<ContextResolver, 'cloneSource' | 'cloneSources'> {
  // Loaded objects without a namespace got `default` (as the CLI loads resources): a
  // cluster-scoped source, which a clone names with no namespace, is found there.
  const namespaceOf = (o: KubeObject) => o.metadata?.namespace || 'default';
  const wanted = (namespace: string) => namespace || 'default';
  return {
    cloneSource: (kind, namespace, name) => objects.find((o) => o.kind === kind && namespaceOf(o) === wanted(namespace) && o.metadata?.name === name),
    cloneSources: (namespace) => objects.filter((o) => namespaceOf(o) === wanted(namespace)),
  };
}
