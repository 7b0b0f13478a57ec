{{/*
The Saga's queues a service uses (root context). Values: .Values.queues =
{enabled, region, endpoint, accountId, urls: {<ENV_KEY>: {queue, role}}}.
  endpoint   the SQS API: https://sqs.<region>.amazonaws.com (prd), the ElasticMQ Service (dev)
  accountId  the account in the queue URLs (AWS account in prd, ElasticMQ's in dev)
  urls       one environment variable per queue, holding <endpoint>/<accountId>/<queue>;
             role is consume (the service polls the queue) or produce (it sends to it)
The keys are the same in every environment; only endpoint and accountId differ.
*/}}

{{/* common.queues.url: the URL of a queue; takes (dict "queues" .Values.queues "queue" <name>). */}}
{{- define "common.queues.url" -}}
{{- printf "%s/%s/%s" (trimSuffix "/" .queues.endpoint) (toString .queues.accountId) .queue -}}
{{- end -}}

{{/* common.queues.env: AWS_REGION, AWS_ENDPOINT_URL_SQS (read by the AWS SDKs) and the queue URLs. */}}
{{- define "common.queues.env" -}}
{{- $q := .Values.queues -}}
- name: AWS_REGION
  value: {{ $q.region | quote }}
- name: AWS_ENDPOINT_URL_SQS
  value: {{ $q.endpoint | quote }}
{{- range $key, $u := $q.urls }}
- name: {{ $key }}
  value: {{ include "common.queues.url" (dict "queues" $q "queue" $u.queue) | quote }}
{{- end }}
{{- end -}}

{{/*
common.queues.annotation: "consume=<queue>,produce=<queue>,..." (sorted by key), the roles
of the queues on the Deployment (microservices-manifests.io/saga-queues), for people and
`platform catalog`.
*/}}
{{- define "common.queues.annotation" -}}
{{- $out := list -}}
{{- range $key, $u := .Values.queues.urls -}}
{{- $out = append $out (printf "%s=%s" $u.role $u.queue) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}
