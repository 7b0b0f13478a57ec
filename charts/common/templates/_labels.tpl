{{/*
Labels. Both templates take (dict "context" . "component" "server").
*/}}

{{/* common.labels.standard: the app.kubernetes.io/* labels, helm.sh/chart and .Values.commonLabels. */}}
{{- define "common.labels.standard" -}}
{{- $ctx := .context -}}
{{ include "common.labels.matchLabels" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ $ctx.Values.partOf | default "microservices" }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
helm.sh/chart: {{ include "common.names.chart" $ctx }}
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* common.labels.matchLabels: the immutable subset used in selectors. */}}
{{- define "common.labels.matchLabels" -}}
app.kubernetes.io/name: {{ include "common.names.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component | default "server" }}
{{- end -}}
