/**
 * AdmissionReview in and out: the request's view for the engine
 * (AdmissionInput) and the response envelope in the version asked.
 */
import type { AdmissionInput, JsonObject, KubeObject, Operation, UserInfo } from '../engine/types.ts';

export interface AdmissionRequest {
  uid: string;
  kind: { group?: string; version?: string; kind: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  requestKind?: { group?: string; version?: string; kind: string };
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: UserInfo;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: JsonObject | null;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1';
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  /** metav1.Status: Kyverno answers status Failure with the message; code 403 for policy denials. */
  status?: { status: 'Failure'; code: number; message: string };
  warnings?: string[];
  patch?: string;
  patchType?: 'JSONPatch';
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionReview['apiVersion'];
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** The engine's input; the namespace falls back to the object's own metadata. */
export function toAdmissionInput(request: AdmissionRequest): AdmissionInput {
  const object = request.object ?? null;
  const oldObject = request.oldObject ?? null;
  const meta = (object ?? oldObject)?.metadata;
  const namespace = request.namespace || meta?.namespace || undefined;
  const name = request.name || meta?.name || undefined;
  const input: AdmissionInput = {
    operation: request.operation,
    object,
    oldObject,
    kind: { group: request.kind.group ?? '', version: request.kind.version ?? '', kind: request.kind.kind },
    userInfo: request.userInfo ?? {},
    roles: [],
    clusterRoles: [],
    dryRun: request.dryRun === true,
    requestExtras: { uid: request.uid },
  };
  if (namespace !== undefined) input.namespace = namespace;
  if (name !== undefined) input.name = name;
  if (request.subResource) input.subResource = request.subResource;
  return input;
}

export function reviewResponse(apiVersion: AdmissionReview['apiVersion'], response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** Name for messages and logs: generateName-only objects show as `prefix*`. */
export function resourceName(request: AdmissionRequest): string {
  if (request.name) return request.name;
  const meta = (request.object ?? request.oldObject)?.metadata;
  if (meta?.name) return meta.name;
  if (meta?.generateName) return `${meta.generateName}*`;
  return '';
}
