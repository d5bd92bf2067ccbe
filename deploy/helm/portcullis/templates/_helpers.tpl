{{/* Object name: fullnameOverride, else the release name (plus "-portcullis" unless it already says so). */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "portcullis" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-portcullis" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: portcullis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" -}}
{{- .Values.certificates.provided.secretName | default (printf "%s-tls" (include "portcullis.fullname" .)) -}}
{{- else -}}
{{- printf "%s-tls" (include "portcullis.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.certMode" -}}
{{- $mode := .Values.certificates.mode -}}
{{- if not (has $mode (list "provided" "cert-manager")) -}}
{{- fail (printf "certificates.mode must be provided or cert-manager, not %q" $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/* clientConfig, namespaceSelector and the settings both webhook configurations share. */}}
{{- define "portcullis.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ .root.Values.webhook.failurePolicy }}
matchPolicy: Equivalent
timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
clientConfig:
  service:
    name: {{ include "portcullis.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- if and (eq (include "portcullis.certMode" .root) "provided") .root.Values.certificates.provided.caBundle }}
  caBundle: {{ .root.Values.certificates.provided.caBundle }}
  {{- end }}
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
    {{- range (concat (list "kube-system" .root.Release.Namespace) .root.Values.webhook.excludedNamespaces) | uniq }}
    - {{ . }}
    {{- end }}
{{- end -}}

{{- define "portcullis.webhookAnnotations" -}}
{{- if eq (include "portcullis.certMode" .) "cert-manager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "portcullis.fullname" .) }}
{{- end }}
{{- end -}}
