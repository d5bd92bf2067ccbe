/**
 * JSON schema of the incoming AdmissionReview envelope (admission.k8s.io v1
 * and v1beta1). Fastify compiles it once with its ajv; only the envelope is
 * checked — the object itself is whatever the apiserver admits.
 */

const groupVersionKind = {
  type: 'object',
  required: ['kind'],
  properties: {
    group: { type: 'string' },
    version: { type: 'string' },
    kind: { type: 'string', minLength: 1 },
  },
} as const;

const kubeObject = { type: ['object', 'null'] } as const;

export const admissionReviewSchema = {
  $id: 'AdmissionReview',
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { type: 'string', enum: ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] },
    kind: { type: 'string', const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 256 },
        kind: groupVersionKind,
        resource: { type: 'object' },
        subResource: { type: 'string' },
        requestKind: groupVersionKind,
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { type: 'string', enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: {
          type: 'object',
          properties: {
            username: { type: 'string' },
            uid: { type: 'string' },
            groups: { type: 'array', items: { type: 'string' } },
            extra: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          },
        },
        object: kubeObject,
        oldObject: kubeObject,
        dryRun: { type: 'boolean' },
        options: { type: ['object', 'null'] },
      },
      // CREATE and UPDATE always carry the new object; UPDATE also the old one.
      allOf: [
        {
          if: { properties: { operation: { enum: ['CREATE', 'UPDATE'] } } },
          then: { required: ['object'], properties: { object: { type: 'object' } } },
        },
        {
          if: { properties: { operation: { const: 'UPDATE' } } },
          then: { required: ['oldObject'], properties: { oldObject: { type: 'object' } } },
        },
      ],
    },
  },
} as const;
