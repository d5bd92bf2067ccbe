/**
 * Opaque CEL types (optional, Quantity, IP, CIDR, URL, Semver, Image…).
 * @bufbuild/cel dispatches overloads on a value's CEL type, and the only
 * user-definable types it knows are protobuf messages; so each opaque type is
 * a one-field message (`v`: canonical string, which also gives `==` its
 * meaning) whose JS payload rides on a symbol property of the message object.
 */
import { objectType, type CelObjectType } from '@bufbuild/cel';
import { create, createFileRegistry, createRegistry, type DescMessage, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { isReflectMessage, reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';

const PAYLOAD = Symbol('portcullis.cel.payload');

const TYPE_NAMES = ['Optional', 'Quantity', 'IP', 'CIDR', 'URL', 'Semver', 'Image', 'Format'] as const;
export type OpaqueName = (typeof TYPE_NAMES)[number];

const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'portcullis/cel/opaque.proto',
    package: 'portcullis.cel',
    syntax: 'proto3',
    // type 9 = TYPE_STRING, label 1 = LABEL_OPTIONAL
    messageType: TYPE_NAMES.map((name) => ({ name, field: [{ name: 'v', number: 1, type: 9, label: 1, jsonName: 'v' }] })),
  }),
  () => undefined,
);

export const opaqueRegistry: Registry = createRegistry(file);

const descs = new Map<OpaqueName, DescMessage>(TYPE_NAMES.map((n) => [n, file.getMessage(`portcullis.cel.${n}`)!]));
const types = new Map<OpaqueName, CelObjectType>(TYPE_NAMES.map((n) => [n, objectType(descs.get(n)!)]));

export function opaqueType(name: OpaqueName): CelObjectType {
  return types.get(name)!;
}

/** Wrap a payload as a CEL value of the opaque type; `key` is its identity for `==`. */
export function wrap(name: OpaqueName, payload: unknown, key: string): ReflectMessage {
  const desc = descs.get(name)!;
  const msg = create(desc, { v: key } as never) as unknown as Record<symbol, unknown>;
  msg[PAYLOAD] = payload;
  return reflect(desc, msg as never);
}

/** The payload of an opaque value, or undefined when `v` is not of that type. */
export function unwrap<T>(name: OpaqueName, v: unknown): T | undefined {
  if (!isReflectMessage(v)) return undefined;
  if (v.desc.typeName !== `portcullis.cel.${name}`) return undefined;
  return (v.message as unknown as Record<symbol, unknown>)[PAYLOAD] as T;
}

/** Payload of the opaque value this method was invoked on (`this` of a celMethod). */
export function self<T>(name: OpaqueName, v: unknown): T {
  const p = unwrap<T>(name, v);
  if (p === undefined && name !== 'Optional') throw new Error(`expected ${name}`);
  return p as T;
}

export function opaqueNameOf(v: unknown): OpaqueName | undefined {
  if (!isReflectMessage(v)) return undefined;
  const n = v.desc.typeName;
  return n.startsWith('portcullis.cel.') ? (n.slice('portcullis.cel.'.length) as OpaqueName) : undefined;
}
