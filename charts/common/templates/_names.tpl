{{/*
Names. Every template takes the root context (.) unless it says otherwise.
*/}}

{{/* common.names.name: the chart name, or .Values.nameOverride. */}}
{{- define "common.names.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* common.names.fullname: the name of every object; the release name is the chart name. */}}
{{- define "common.names.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "common.names.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* common.names.chart: chart name and version, for the helm.sh/chart label. */}}
{{- define "common.names.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* common.names.namespace: the release namespace (Chart.yaml annotation microservices-manifests.io/namespace). */}}
{{- define "common.names.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{/* common.names.fqdn: the in-cluster DNS name of the chart's Service. */}}
{{- define "common.names.fqdn" -}}
{{- printf "%s.%s.svc.cluster.local" (include "common.names.fullname" .) (include "common.names.namespace" .) -}}
{{- end -}}

{{/* common.names.database: the name of the database Service and Secret (<fullname>-db). */}}
{{- define "common.names.database" -}}
{{- printf "%s-db" (include "common.names.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
