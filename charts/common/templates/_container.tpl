{{/*
common.container: one container from a values map keyed by container name.
Takes (dict "context" . "name" "app" "container" .Values.containers.app).
  image          {registry, repository, tag, digest}
  command, args  lists (optional)
  ports          {<port name>: <number>}
  env            {<NAME>: <value>}, rendered sorted by name
  secretEnv      {<NAME>: {name: <Secret>, key: <key>}}
  fieldEnv       {<NAME>: <pod field path>} (downward API, e.g. metadata.name)
  resources      Kubernetes ResourceRequirements
  probes         {readiness, liveness, startup}: Kubernetes probes (use named ports)
  securityContext {runAsUser, runAsGroup} on top of the restricted defaults
  volumeMounts   {<pod volume>: <mountPath>} (emptyDirs, or "config" for the whole ConfigMap)
  configFiles    {<ConfigMap key>: <file path>} mounted read-only with subPath
The container named "app" also receives the database connection (DB_*) when
.Values.database.enabled, and the Saga's queue URLs (see _queues.tpl) when
.Values.queues.enabled.
*/}}
{{- define "common.container" -}}
{{- $ctx := .context -}}
{{- $c := .container -}}
- name: {{ .name }}
  image: {{ include "common.images.image" $c.image }}
  imagePullPolicy: {{ $c.image.pullPolicy | default "IfNotPresent" }}
  {{- with $c.command }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.ports }}
  ports:
    {{- range $name, $port := . }}
    - name: {{ $name }}
      containerPort: {{ $port }}
      protocol: TCP
    {{- end }}
  {{- end }}
  {{- $db := and (eq .name "app") $ctx.Values.database $ctx.Values.database.enabled }}
  {{- $queues := and (eq .name "app") $ctx.Values.queues $ctx.Values.queues.enabled }}
  {{- if or $c.env $c.secretEnv $c.fieldEnv $db $queues }}
  env:
    {{- range $k, $v := $c.env }}
    - name: {{ $k }}
      value: {{ $v | toString | quote }}
    {{- end }}
    {{- range $k, $ref := $c.secretEnv }}
    - name: {{ $k }}
      valueFrom:
        secretKeyRef:
          name: {{ $ref.name }}
          key: {{ $ref.key }}
    {{- end }}
    {{- range $k, $path := $c.fieldEnv }}
    - name: {{ $k }}
      valueFrom:
        fieldRef:
          fieldPath: {{ $path }}
    {{- end }}
    {{- if $db }}
    {{- include "common.database.env" $ctx | nindent 4 }}
    {{- end }}
    {{- if $queues }}
    {{- include "common.queues.env" $ctx | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- with $c.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.probes }}
  {{- with .startup }}
  startupProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .readiness }}
  readinessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .liveness }}
  livenessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  securityContext:
    {{- include "common.securityContext.container" $c.securityContext | nindent 4 }}
  {{- if or $c.volumeMounts $c.configFiles }}
  volumeMounts:
    {{- range $volume, $path := $c.volumeMounts }}
    - name: {{ $volume }}
      mountPath: {{ $path }}
    {{- end }}
    {{- range $key, $path := $c.configFiles }}
    - name: config
      mountPath: {{ $path }}
      subPath: {{ $key }}
      readOnly: true
    {{- end }}
  {{- end }}
{{- end -}}

{{/*
common.volumes: the pod's volumes: "config" (the chart's ConfigMap) when any container
mounts it, plus one emptyDir per entry of .Values.emptyDirs ({<name>: {sizeLimit, medium}}).
*/}}
{{- define "common.volumes" -}}
{{- $config := false -}}
{{- range $name, $c := .Values.containers -}}
{{- if or $c.configFiles (hasKey ($c.volumeMounts | default dict) "config") }}{{ $config = true }}{{ end -}}
{{- end -}}
{{- if and .Values.proxy .Values.proxy.enabled }}{{ $config = true }}{{ end -}}
{{- if $config }}
- name: config
  configMap:
    name: {{ include "common.names.fullname" . }}
{{- end }}
{{- range $name, $spec := .Values.emptyDirs }}
- name: {{ $name }}
  emptyDir:
    {{- $spec = $spec | default dict }}
    {{- with $spec.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ $spec.sizeLimit | default "64Mi" }}
{{- end }}
{{- end -}}
