{{/*
Exposure through the Istio ingress gateway (root context). Values: .Values.gateway =
{enabled, selector, hosts, tls: {enabled, credentialName, minProtocolVersion},
 routes: {<name>: {prefix, rewrite, host, port, timeout}}}.
Hosts are explicit names, never "*". With tls.enabled the gateway serves HTTPS with the
certificate in Secret tls.credentialName (in the gateway's namespace) and redirects HTTP.
*/}}

{{/* common.gateway: the Istio Gateway. */}}
{{- define "common.gateway" -}}
{{- $gw := .Values.gateway -}}
{{- if $gw.enabled -}}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "gateway") | nindent 4 }}
spec:
  selector:
    {{- toYaml $gw.selector | nindent 4 }}
  servers:
    {{- if $gw.tls.enabled }}
    - port:
        number: 443
        name: https
        protocol: HTTPS
      hosts:
        {{- toYaml $gw.hosts | nindent 8 }}
      tls:
        mode: SIMPLE
        credentialName: {{ required "gateway.tls.credentialName is required with gateway.tls.enabled" $gw.tls.credentialName }}
        minProtocolVersion: {{ $gw.tls.minProtocolVersion | default "TLSV1_2" }}
    - port:
        number: 80
        name: http
        protocol: HTTP
      hosts:
        {{- toYaml $gw.hosts | nindent 8 }}
      tls:
        httpsRedirect: true
    {{- else }}
    - port:
        number: 80
        name: http
        protocol: HTTP
      hosts:
        {{- toYaml $gw.hosts | nindent 8 }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/*
common.gatewayVirtualService: routes of the Gateway's hosts, longest prefix first, each to a
Service of the namespace (FQDN), with the mesh timeout and retries.
*/}}
{{- define "common.gatewayVirtualService" -}}
{{- $gw := .Values.gateway -}}
{{- if $gw.enabled -}}
{{- $ns := include "common.names.namespace" . -}}
{{- $vs := .Values.mesh.virtualService -}}
{{- $keys := list -}}
{{- range $name, $r := $gw.routes -}}
{{- $keys = append $keys (printf "%04d/%s" (sub 1000 (len $r.prefix)) $name) -}}
{{- end -}}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ printf "%s-gateway" (include "common.names.fullname" .) }}
  namespace: {{ $ns }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "gateway") | nindent 4 }}
spec:
  hosts:
    {{- toYaml $gw.hosts | nindent 4 }}
  gateways:
    - {{ include "common.names.fullname" . }}
  http:
    {{- range $key := sortAlpha $keys }}
    {{- $name := index (splitList "/" $key) 1 }}
    {{- $r := index $gw.routes $name }}
    - name: {{ $name }}
      match:
        - uri:
            prefix: {{ $r.prefix }}
      {{- with $r.rewrite }}
      rewrite:
        uri: {{ . }}
      {{- end }}
      route:
        - destination:
            host: {{ printf "%s.%s.svc.cluster.local" $r.host $ns }}
            port:
              number: {{ $r.port }}
      timeout: {{ $r.timeout | default $vs.timeout }}
      retries:
        attempts: {{ $vs.retries.attempts }}
        perTryTimeout: {{ $vs.retries.perTryTimeout }}
        retryOn: {{ $vs.retries.retryOn | quote }}
    {{- end }}
{{- end -}}
{{- end -}}
