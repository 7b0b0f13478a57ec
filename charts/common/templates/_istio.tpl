{{/*
Istio traffic objects of a service (root context). Values: .Values.mesh =
{virtualService: {timeout, retries: {attempts, perTryTimeout, retryOn}},
 destinationRule: {connectionPool, outlierDetection}}.
*/}}

{{/* common.virtualService: in-mesh VirtualService for the Service's FQDN with timeout and retries. */}}
{{- define "common.virtualService" -}}
{{- $vs := .Values.mesh.virtualService -}}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
spec:
  hosts:
    - {{ include "common.names.fqdn" . }}
  exportTo:
    - "."
    - {{ .Values.mesh.gatewayNamespace | default "istio-ingress" | quote }}
  http:
    - name: {{ include "common.names.fullname" . }}
      route:
        - destination:
            host: {{ include "common.names.fqdn" . }}
            port:
              number: {{ .Values.service.port }}
      timeout: {{ $vs.timeout }}
      retries:
        attempts: {{ $vs.retries.attempts }}
        perTryTimeout: {{ $vs.retries.perTryTimeout }}
        retryOn: {{ $vs.retries.retryOn | quote }}
{{- end -}}

{{/* common.destinationRule: ISTIO_MUTUAL, connection pool and outlier detection for the Service's FQDN. */}}
{{- define "common.destinationRule" -}}
{{- $dr := .Values.mesh.destinationRule -}}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "server") | nindent 4 }}
spec:
  host: {{ include "common.names.fqdn" . }}
  exportTo:
    - "."
    - {{ .Values.mesh.gatewayNamespace | default "istio-ingress" | quote }}
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
    {{- with $dr.connectionPool }}
    connectionPool:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    outlierDetection:
      {{- toYaml $dr.outlierDetection | nindent 6 }}
{{- end -}}
