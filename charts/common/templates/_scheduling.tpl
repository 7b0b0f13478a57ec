{{/* common.affinity.nodegroup: required node affinity to a node group; takes the nodegroup name. */}}
{{- define "common.affinity.nodegroup" -}}
nodeAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    nodeSelectorTerms:
      - matchExpressions:
          - key: node.kubernetes.io/nodegroup
            operator: In
            values:
              - {{ required "nodegroup is required" . }}
{{- end -}}

{{/*
common.topologySpread: spread across nodes (kubernetes.io/hostname);
takes (dict "context" . "component" "server" "spec" .Values.topologySpread).
*/}}
{{- define "common.topologySpread" -}}
- maxSkew: {{ .spec.maxSkew | default 1 }}
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: {{ .spec.whenUnsatisfiable | default "ScheduleAnyway" }}
  labelSelector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" .context "component" .component) | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
{{- end -}}
