{{/*
saga-queues.arn: the ARN of a queue of this chart; takes (dict "root" . "queue" <name>).
*/}}
{{- define "saga-queues.arn" -}}
{{- printf "arn:aws:sqs:%s:%s:%s" .root.Values.aws.region (toString .root.Values.aws.accountId) .queue -}}
{{- end -}}

{{/* saga-queues.dlq: the name of a queue's dead-letter queue; takes the queue name. */}}
{{- define "saga-queues.dlq" -}}
{{- printf "%s-dlq" . -}}
{{- end -}}

{{/* saga-queues.setting: a queue's setting or the default; takes (dict "root" . "queue" $q "key" "visibilityTimeoutSeconds"). */}}
{{- define "saga-queues.setting" -}}
{{- $q := .queue | default dict -}}
{{- if hasKey $q .key }}{{ index $q .key | int }}{{ else }}{{ index .root.Values.defaults .key | int }}{{ end -}}
{{- end -}}
