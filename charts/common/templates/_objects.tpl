{{/*
Small whole objects of a service chart. Each takes the root context.
*/}}

{{/* common.service: ClusterIP Service, port "http" (appProtocol http) -> .Values.service.targetPort. */}}
{{- define "common.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "common.labels.matchLabels" (dict "context" . "component" "server") | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: {{ .Values.service.targetPort }}
      protocol: TCP
      appProtocol: http
{{- end -}}

{{/* common.serviceAccount: the pods' identity (Istio principal cluster.local/ns/<ns>/sa/<fullname>); no token automount. */}}
{{- define "common.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}

{{/* common.pdb: PodDisruptionBudget with .Values.pdb.maxUnavailable; unhealthy pods may always be evicted. */}}
{{- define "common.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.pdb.maxUnavailable }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" . "component" "server") | nindent 6 }}
{{- end -}}

{{/* common.hpa: autoscaling/v2 HorizontalPodAutoscaler on CPU (and memory if set); only when .Values.autoscaling.enabled. */}}
{{- define "common.hpa" -}}
{{- if .Values.autoscaling.enabled -}}
{{- $a := .Values.autoscaling -}}
{{- if lt (int $a.minReplicas) 2 -}}
{{- fail "autoscaling.minReplicas must be at least 2" -}}
{{- end -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "common.names.fullname" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/*
common.configMap.data: the ConfigMap's data: envoy.yaml when the proxy is enabled, every
file under the chart's files/ directory (rendered with tpl, so it may use values), and
.Values.configFiles ({<key>: <content>}). Hashed into checksum/config.
*/}}
{{- define "common.configMap.data" -}}
{{- $data := dict -}}
{{- if and .Values.proxy .Values.proxy.enabled -}}
{{- $_ := set $data "envoy.yaml" (include "common.envoy.config" .) -}}
{{- end -}}
{{- $root := . -}}
{{- range $path, $_ := .Files.Glob "files/*" -}}
{{- $_ := set $data (base $path) (tpl ($root.Files.Get $path) $root) -}}
{{- end -}}
{{- range $k, $v := .Values.configFiles -}}
{{- $_ := set $data $k ($v | toString) -}}
{{- end -}}
{{- if $data -}}
{{- toYaml $data -}}
{{- end -}}
{{- end -}}

{{/* common.configMap: the chart's ConfigMap (nothing when it has no data). */}}
{{- define "common.configMap" -}}
{{- with (include "common.configMap.data" .) -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.names.fullname" $ }}
  namespace: {{ include "common.names.namespace" $ }}
  labels:
    {{- include "common.labels.standard" (dict "context" $ "component" "server") | nindent 4 }}
data:
  {{- . | nindent 2 }}
{{- end -}}
{{- end -}}
