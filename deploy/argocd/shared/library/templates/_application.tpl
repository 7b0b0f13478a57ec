{{/*
argocd.applications: one Application per entry of .Values.applications (a map keyed by the
Application name; a null entry disables one). Takes the root context.

Chart-level values used:
  environment     name of the environment (values-<environment>.yaml is the git charts' values file)
  project         default AppProject of the entries
  git.repoURL, git.targetRevision       this repository
  oci.repoURL                            the ECR OCI repository of the published charts
  chartSource     "git" (dev: path <chartRoot>/<chart> in this repository) or "oci" (prd: ECR)
  chartRoot       directory of the user-defined charts (app or infra)
  destinationServer

Entry fields (source is one of):
  source: chart   a user-defined chart: chart (name, default: the key), version (its Chart.yaml version),
                  dir (its directory under chartRoot, default: the chart name)
  source: tree    a chart of further Applications in this repository: path
  source: git     a chart of this repository from git in every environment (values-<environment>.yaml),
                  even where chartSource is oci: what must not come from ECR (the credentials to reach it): path
  source: helm    an official chart: repoURL, chart, version (exact)
  namespace, syncWave, releaseName (default: the chart name), values (helm valuesObject),
  syncOptions (added to the defaults), project (default: .Values.project),
  ignoreDifferences (Argo CD's spec.ignoreDifferences: fields a controller or a chart's own
  generator changes, e.g. a webhook certificate generated at every render),
  policyExemptions (source: helm: a list of {rules, objects, reason} exempting objects of the
  official chart from policy rules; rendered as the annotation
  policy.microservices-manifests.io/chart-exemptions, which platform validate reads)
*/}}
{{- define "argocd.applications" -}}
{{- $root := . -}}
{{- range $name, $app := .Values.applications }}
{{- if not (kindIs "invalid" $app) }}
---
{{ include "argocd.application" (dict "root" $root "name" $name "app" $app) }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "argocd.application" -}}
{{- $v := .root.Values -}}
{{- $app := .app -}}
{{- $kind := required (printf "applications.%s.source is required" .name) $app.source -}}
{{- $chart := default .name $app.chart -}}
{{- $git := or (eq $kind "tree") (eq $kind "git") (and (eq $kind "chart") (eq $v.chartSource "git")) -}}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    app.kubernetes.io/name: {{ .name }}
    app.kubernetes.io/part-of: {{ .root.Chart.Name }}
    app.kubernetes.io/managed-by: {{ .root.Release.Service }}
    helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
  annotations:
    argocd.argoproj.io/sync-wave: {{ default "0" $app.syncWave | quote }}
    {{- if $git }}
    {{- /* refresh only when the chart (or the library charts it uses) changed */}}
    argocd.argoproj.io/manifest-generate-paths: {{ if eq $kind "tree" }}.;/deploy/argocd/shared/library{{ else }}.;/charts{{ end }}
    {{- end }}
    {{- with $app.policyExemptions }}
    {{- if ne $kind "helm" }}
    {{- fail (printf "applications.%s.policyExemptions: only for source: helm (annotate the objects of charts of this repository)" $.name) }}
    {{- end }}
    policy.microservices-manifests.io/chart-exemptions: {{ toJson . | quote }}
    {{- end }}
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: {{ default $v.project $app.project }}
  source:
    {{- if or (eq $kind "tree") (eq $kind "git") }}
    repoURL: {{ $v.git.repoURL }}
    targetRevision: {{ $v.git.targetRevision }}
    path: {{ required (printf "applications.%s.path is required" .name) $app.path }}
    {{- else if eq $kind "helm" }}
    repoURL: {{ required (printf "applications.%s.repoURL is required" .name) $app.repoURL }}
    chart: {{ $chart }}
    targetRevision: {{ required (printf "applications.%s.version is required" .name) $app.version | quote }}
    {{- else if eq $kind "chart" }}
    {{- if eq $v.chartSource "git" }}
    repoURL: {{ $v.git.repoURL }}
    targetRevision: {{ $v.git.targetRevision }}
    path: {{ printf "%s/%s" $v.chartRoot (default $chart $app.dir) }}
    {{- else if eq $v.chartSource "oci" }}
    repoURL: {{ $v.oci.repoURL }}
    chart: {{ $chart }}
    targetRevision: {{ required (printf "applications.%s.version is required" .name) $app.version | quote }}
    {{- else }}
    {{- fail (printf "chartSource must be git or oci, not %q" $v.chartSource) }}
    {{- end }}
    {{- else }}
    {{- fail (printf "applications.%s.source must be chart, tree, git or helm, not %q" .name $kind) }}
    {{- end }}
    helm:
      releaseName: {{ default $chart $app.releaseName }}
      {{- if $git }}
      valueFiles:
        - values-{{ $v.environment }}.yaml
      {{- end }}
      {{- with $app.values }}
      valuesObject:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  {{- with $app.ignoreDifferences }}
  ignoreDifferences:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  destination:
    server: {{ $v.destinationServer }}
    namespace: {{ required (printf "applications.%s.namespace is required" .name) $app.namespace }}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - PruneLast=true
      - FailOnSharedResource=true
      {{- range $app.syncOptions }}
      - {{ . }}
      {{- end }}
    retry:
      limit: 5
      backoff:
        duration: 10s
        factor: 2
        maxDuration: 3m
  revisionHistoryLimit: 10
{{- end -}}
