{{/*
Security contexts. The restricted Pod Security Standard is the default and cannot be
turned off from values: only the user and group ids are chosen by the caller.
*/}}

{{/* common.securityContext.pod: takes a map {runAsUser, runAsGroup, fsGroup}. */}}
{{- define "common.securityContext.pod" -}}
{{- $sc := dict "runAsNonRoot" true "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- with . }}{{ $sc = mustMergeOverwrite $sc (deepCopy .) }}{{ end -}}
{{- if eq (int (default 1 $sc.runAsUser)) 0 -}}
{{- fail "securityContext: runAsUser 0 (root) is not allowed" -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}

{{/* common.securityContext.container: takes a map {runAsUser, runAsGroup}. */}}
{{- define "common.securityContext.container" -}}
{{- $sc := dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "runAsNonRoot" true "privileged" false "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- with . }}{{ $sc = mustMergeOverwrite $sc (deepCopy .) }}{{ end -}}
{{- if eq (int (default 1 $sc.runAsUser)) 0 -}}
{{- fail "securityContext: runAsUser 0 (root) is not allowed" -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}
