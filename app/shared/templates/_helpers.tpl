{{/* shared.selector: pod labels of a service (dict "name" "account" "component" "server"). */}}
{{- define "shared.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* shared.principal: the mTLS principal of a service account in the release namespace. */}}
{{- define "shared.principal" -}}
{{- printf "cluster.local/ns/%s/sa/%s" .namespace .sa -}}
{{- end -}}
