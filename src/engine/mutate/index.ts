/** Public surface of the mutate engine. */
export { compileMutation, successMessage, toRuleResponse } from './mutate.ts';
export type { CompiledMutation, CompileOptions, ForEachMutationSpec, MutateDeps, MutateSpec, MutationResult } from './mutate.ts';
export { applyStrategicMerge, compilePatcher, type TemplateCompiler } from './patchers.ts';
export { applyJson6902, parseJson6902, JsonPatchError } from './jsonPatch.ts';
export { strategicMerge, MergeError } from './merge.ts';
export { basicMatchPattern } from './basicPattern.ts';
export type { PatternMatcher } from './preprocess.ts';
export { schemaForResource } from './schema.ts';
