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

{{/* ecr-credentials.exemptC20: why these objects live in Argo CD's namespace (policy C20). */}}
{{- define "ecr-credentials.exemptC20" -}}
Argo CD reads repository Secrets in its own namespace only: the ExternalSecret that renews its ECR credentials, its generator and the ServiceAccount of its IRSA role must live there
{{- end -}}
