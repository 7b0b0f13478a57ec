{{/*
ecr-credentials.secretData: the keys of an Argo CD repository Secret for an OCI Helm
repository on ECR (Argo CD's declarative setup: type helm, enableOCI, url without scheme),
with the generator's username and password as external-secrets template expressions.
pkg/cluster's embedded run writes a Secret with exactly these keys (a test compares them).
*/}}
{{- define "ecr-credentials.secretData" -}}
name: {{ .name | quote }}
type: helm
enableOCI: "true"
url: {{ .url | quote }}
username: {{ "{{ .username }}" | quote }}
password: {{ "{{ .password }}" | quote }}
{{- end -}}
