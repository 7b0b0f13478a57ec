{{/* api-gateway.metadata: name, namespace, labels and the ACK dry-run annotation; takes (dict "root" . "name" <name> "component" <component>). */}}
{{- define "api-gateway.metadata" -}}
name: {{ .name }}
namespace: {{ include "common.names.namespace" .root }}
labels:
  {{- include "common.labels.standard" (dict "context" .root "component" .component) | nindent 2 }}
annotations:
  # The CRDs come with the ACK apigatewayv2 controller (another Application).
  argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
  {{- with .annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* api-gateway.apiRef: the reference to the chart's API. */}}
{{- define "api-gateway.apiRef" -}}
apiRef:
  from:
    name: {{ .Values.api.name }}
{{- end -}}
