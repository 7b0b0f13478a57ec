{{/*
common.deployment: the service's Deployment (root context). Pod: the containers of
.Values.containers (sorted by name) plus the Envoy proxy when .Values.proxy.enabled;
required node affinity to .Values.nodegroup; spread over nodes; restricted security;
no service-account token; a checksum/config annotation that rolls the pods when the
ConfigMap's data changes. Replicas come from the HPA when .Values.autoscaling.enabled.
.Values.policyExemptions ({<rule id>: <reason>}) become the policy engine's exemption
annotations on the Deployment; the roles of .Values.queues.urls its saga-queues annotation.
*/}}
{{- define "common.deployment" -}}
{{- $component := "server" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" $component) | nindent 4 }}
  {{- $queues := and .Values.queues .Values.queues.enabled .Values.queues.urls }}
  {{- if or .Values.policyExemptions $queues }}
  annotations:
    {{- range $rule, $reason := .Values.policyExemptions }}
    policy.microservices-manifests.io/exempt-{{ $rule }}: {{ $reason | quote }}
    {{- end }}
    {{- if $queues }}
    microservices-manifests.io/saga-queues: {{ include "common.queues.annotation" . | quote }}
    {{- end }}
  {{- end }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: {{ .Values.revisionHistoryLimit | default 3 }}
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" . "component" $component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: {{ .Values.rollingUpdate.maxSurge }}
      maxUnavailable: {{ .Values.rollingUpdate.maxUnavailable }}
  template:
    metadata:
      labels:
        {{- include "common.labels.standard" (dict "context" . "component" $component) | nindent 8 }}
      annotations:
        checksum/config: {{ include "common.configMap.data" . | sha256sum }}
        kubectl.kubernetes.io/default-container: app
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "common.names.fullname" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | default 30 }}
      securityContext:
        {{- include "common.securityContext.pod" .Values.podSecurityContext | nindent 8 }}
      affinity:
        {{- include "common.affinity.nodegroup" .Values.nodegroup | nindent 8 }}
      topologySpreadConstraints:
        {{- include "common.topologySpread" (dict "context" . "component" $component "spec" .Values.topologySpread) | nindent 8 }}
      containers:
        {{- range $name, $c := .Values.containers }}
        {{- include "common.container" (dict "context" $ "name" $name "container" $c) | nindent 8 }}
        {{- end }}
        {{- if and .Values.proxy .Values.proxy.enabled }}
        {{- include "common.envoy.container" . | nindent 8 }}
        {{- end }}
      {{- with (include "common.volumes" .) }}
      volumes:
        {{- . | nindent 8 }}
      {{- end }}
{{- end -}}
