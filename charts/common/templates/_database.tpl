{{/*
The database a service owns (root context). Values: .Values.database =
{enabled, mode, name, user, port, externalName, passwordSecret: {name, key},
 statefulset: {image, resources, storage: {size, storageClassName}, podSecurityContext}}
and .Values.secrets = {databasePassword, databaseRootPassword}.
  mode statefulset (dev): a MySQL StatefulSet and a headless Service <fullname>-db
  mode external (prd):    an ExternalName Service <fullname>-db pointing at Aurora
The application always connects to <fullname>-db:<port>, in every environment.
*/}}

{{/* common.database.secretName: the Secret holding the passwords. */}}
{{- define "common.database.secretName" -}}
{{- .Values.database.passwordSecret.name | default (include "common.names.database" .) -}}
{{- end -}}

{{/* common.database.env: DB_* variables of the application container. */}}
{{- define "common.database.env" -}}
{{- $db := .Values.database -}}
- name: DB_HOST
  value: {{ include "common.names.database" . | quote }}
- name: DB_PORT
  value: {{ $db.port | toString | quote }}
- name: DB_DATABASE
  value: {{ $db.name | quote }}
- name: DB_USERNAME
  value: {{ $db.user | quote }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "common.database.secretName" . }}
      key: {{ $db.passwordSecret.key }}
{{- end -}}

{{/*
common.database.secret: the Secret with the database passwords. Its values come from
.Values.secrets, which are "" in git and filled at publish time from environment variables
(see the chart's values.yaml). Rendered only when the chart owns the Secret (no
database.passwordSecret.name given).
*/}}
{{- define "common.database.secret" -}}
{{- if and .Values.database.enabled (not .Values.database.passwordSecret.name) -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "common.database.secretName" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "database") | nindent 4 }}
type: Opaque
data:
  {{ .Values.database.passwordSecret.key }}: {{ .Values.secrets.databasePassword | default "" | b64enc | quote }}
  {{- if eq .Values.database.mode "statefulset" }}
  root-password: {{ .Values.secrets.databaseRootPassword | default "" | b64enc | quote }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* common.database.service: headless Service of the StatefulSet, or ExternalName to Aurora. */}}
{{- define "common.database.service" -}}
{{- $db := .Values.database -}}
{{- if $db.enabled -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "common.names.database" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "database") | nindent 4 }}
spec:
  {{- if eq $db.mode "external" }}
  type: ExternalName
  externalName: {{ required "database.externalName (the Aurora endpoint) is required when database.mode is external" $db.externalName }}
  ports:
    - name: tcp-mysql
      port: {{ $db.port }}
      targetPort: {{ $db.port }}
      protocol: TCP
      appProtocol: tcp
  {{- else }}
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "common.labels.matchLabels" (dict "context" . "component" "database") | nindent 4 }}
  ports:
    - name: tcp-mysql
      port: {{ $db.port }}
      targetPort: mysql
      protocol: TCP
      appProtocol: tcp
  {{- end }}
{{- end -}}
{{- end -}}

{{/* common.database.serviceAccount: identity of the MySQL pods (mode statefulset). */}}
{{- define "common.database.serviceAccount" -}}
{{- if and .Values.database.enabled (eq .Values.database.mode "statefulset") -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "common.names.database" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "database") | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{/*
common.database.statefulSet: single-replica MySQL with a PVC, in the app node group (mode
statefulset). Readiness asks the server over TCP (`mysqladmin ping` succeeds once mysqld
answers the protocol, even when it refuses the anonymous login; the entrypoint's temporary
init server skips networking, so it never looks ready); liveness only checks that the port
accepts connections, so a busy server is taken out of the Service, not restarted (M17).
*/}}
{{- define "common.database.statefulSet" -}}
{{- $db := .Values.database -}}
{{- if and $db.enabled (eq $db.mode "statefulset") -}}
{{- $s := $db.statefulset -}}
{{- $secret := include "common.database.secretName" . -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "common.names.database" . }}
  namespace: {{ include "common.names.namespace" . }}
  labels:
    {{- include "common.labels.standard" (dict "context" . "component" "database") | nindent 4 }}
spec:
  serviceName: {{ include "common.names.database" . }}
  replicas: 1
  revisionHistoryLimit: 3
  podManagementPolicy: OrderedReady
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  updateStrategy:
    type: RollingUpdate
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" . "component" "database") | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "common.labels.standard" (dict "context" . "component" "database") | nindent 8 }}
      annotations:
        kubectl.kubernetes.io/default-container: mysql
    spec:
      serviceAccountName: {{ include "common.names.database" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 60
      securityContext:
        {{- include "common.securityContext.pod" $s.podSecurityContext | nindent 8 }}
      affinity:
        {{- include "common.affinity.nodegroup" .Values.nodegroup | nindent 8 }}
      containers:
        {{- $c := dict
          "image" $s.image
          "ports" (dict "mysql" $db.port)
          "env" (dict "MYSQL_DATABASE" $db.name "MYSQL_USER" $db.user)
          "secretEnv" (dict
            "MYSQL_PASSWORD" (dict "name" $secret "key" $db.passwordSecret.key)
            "MYSQL_ROOT_PASSWORD" (dict "name" $secret "key" "root-password"))
          "resources" $s.resources
          "probes" (dict
            "startup" (dict "tcpSocket" (dict "port" "mysql") "periodSeconds" 10 "failureThreshold" 30)
            "readiness" (dict "exec" (dict "command" (list "mysqladmin" "ping" "--silent" "--protocol=TCP" "--host=127.0.0.1" (printf "--port=%v" $db.port))) "periodSeconds" 10 "timeoutSeconds" 5 "failureThreshold" 3)
            "liveness" (dict "tcpSocket" (dict "port" "mysql") "periodSeconds" 20 "failureThreshold" 3))
          "volumeMounts" (dict "data" "/var/lib/mysql" "run" "/var/run/mysqld" "tmp" "/tmp" "files" "/var/lib/mysql-files")
        }}
        {{- include "common.container" (dict "context" . "name" "mysql" "container" $c) | nindent 8 }}
      volumes:
        - name: run
          emptyDir:
            sizeLimit: 16Mi
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        - name: files
          emptyDir:
            sizeLimit: 16Mi
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        labels:
          {{- include "common.labels.matchLabels" (dict "context" . "component" "database") | nindent 10 }}
      spec:
        accessModes:
          - ReadWriteOnce
        {{- with $s.storage.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $s.storage.size }}
{{- end -}}
{{- end -}}
