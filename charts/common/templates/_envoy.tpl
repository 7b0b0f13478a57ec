{{/*
The Envoy proxy container every backend pod runs in front of its application (the
mission's "proxy containers"), besides the istio-proxy sidecar Istio injects. Values:
.Values.proxy = {enabled, image, port, upstreamPort, adminPort, healthPort, routeTimeout,
connectTimeout, logLevel, resources, securityContext}.
  port          named "http": what the Service targets
  upstreamPort  the local port Envoy forwards to (the application, or Nginx for order)
  healthPort    named "envoy-health": serves only GET /ready from the admin interface,
                which itself listens on 127.0.0.1 only (the readiness probe), and GET /live,
                answered by the listener itself (the liveness probe: it proves Envoy's
                workers serve HTTP and depends on neither the admin interface nor the
                application, so a slow upstream never restarts Envoy; policy M17)
*/}}

{{/* common.envoy.container: the Envoy container (root context). */}}
{{- define "common.envoy.container" -}}
{{- $p := .Values.proxy -}}
{{- $c := dict
  "image" $p.image
  "args" (list "--config-path" "/etc/envoy/envoy.yaml" "--log-level" ($p.logLevel | default "info") "--disable-hot-restart")
  "ports" (dict "http" $p.port "envoy-health" $p.healthPort)
  "resources" $p.resources
  "probes" (dict
    "readiness" (dict "httpGet" (dict "path" "/ready" "port" "envoy-health") "periodSeconds" 5 "failureThreshold" 3)
    "liveness" (dict "httpGet" (dict "path" "/live" "port" "envoy-health") "periodSeconds" 10 "failureThreshold" 6))
  "securityContext" $p.securityContext
  "configFiles" (dict "envoy.yaml" "/etc/envoy/envoy.yaml")
-}}
{{- include "common.container" (dict "context" . "name" "envoy" "container" $c) -}}
{{- end -}}

{{/* common.envoy.config: envoy.yaml (root context). */}}
{{- define "common.envoy.config" -}}
{{- $p := .Values.proxy -}}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: {{ $p.adminPort }} }
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: { address: 0.0.0.0, port_value: {{ $p.port }} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                route_config:
                  name: local
                  virtual_hosts:
                    - name: {{ include "common.names.fullname" . }}
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route:
                            cluster: app
                            timeout: {{ $p.routeTimeout | default "15s" }}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
    - name: health
      address:
        socket_address: { address: 0.0.0.0, port_value: {{ $p.healthPort }} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: health
                route_config:
                  name: health
                  virtual_hosts:
                    - name: health
                      domains: ["*"]
                      routes:
                        - match: { path: "/ready", headers: [{ name: ":method", string_match: { exact: GET } }] }
                          route: { cluster: admin }
                        - match: { path: "/live", headers: [{ name: ":method", string_match: { exact: GET } }] }
                          direct_response: { status: 200, body: { inline_string: "live\n" } }
                        - match: { prefix: "/" }
                          direct_response: { status: 404 }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: app
      type: STATIC
      connect_timeout: {{ $p.connectTimeout | default "1s" }}
      load_assignment:
        cluster_name: app
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: {{ $p.upstreamPort }} }
    - name: admin
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: admin
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: {{ $p.adminPort }} }
{{- end -}}
