{{/* Names and labels shared by every template. */}}

{{- define "photo-restore.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "photo-restore.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "photo-restore.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "photo-restore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "photo-restore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "photo-restore.labels" -}}
helm.sh/chart: {{ include "photo-restore.chart" . }}
{{ include "photo-restore.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: photo-restore
{{- end -}}

{{- define "photo-restore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "photo-restore.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "photo-restore.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret holds only the secrets given as values (not from existingSecret). */}}
{{- define "photo-restore.secretName" -}}
{{- printf "%s-secrets" (include "photo-restore.fullname" .) -}}
{{- end -}}

{{- define "photo-restore.chartSecretData" -}}
{{- range $name, $s := .Values.secrets -}}
{{- if and $s.value (not $s.existingSecret) }}
{{ $s.key }}: {{ $s.value | b64enc | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* True when the chart makes up the dashboard password (see values: secrets.dashboardPassword). */}}
{{- define "photo-restore.generateDashboardPassword" -}}
{{- $d := .Values.secrets.dashboardPassword -}}
{{- if and $d.generate (not $d.value) (not $d.existingSecret) (not .Values.config.authHeader) -}}true{{- end -}}
{{- end -}}

{{/* The generated password: the one already in the cluster if any, so upgrades keep it. */}}
{{- define "photo-restore.generatedDashboardPassword" -}}
{{- $key := .Values.secrets.dashboardPassword.key -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "photo-restore.secretName" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data $key) -}}
{{- index $existing.data $key -}}
{{- else -}}
{{- randAlphaNum 24 | b64enc -}}
{{- end -}}
{{- end -}}

{{- define "photo-restore.modelsConfigMapName" -}}
{{- if .Values.models.existingConfigMap -}}
{{- .Values.models.existingConfigMap -}}
{{- else -}}
{{- printf "%s-models" (include "photo-restore.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "photo-restore.hasModels" -}}
{{- if or .Values.models.existingConfigMap .Values.models.toml -}}true{{- end -}}
{{- end -}}

{{- define "photo-restore.redisUrlSecretName" -}}
{{- printf "%s-redis-url" (include "photo-restore.fullname" .) -}}
{{- end -}}

{{/* Fail early, with one line, when no Redis is configured at all. */}}
{{- define "photo-restore.validate" -}}
{{- if and (not .Values.redis.enabled) (not .Values.redis.url) (not .Values.redis.existingSecret) -}}
{{- fail "redis: set redis.enabled=true, or redis.url / redis.existingSecret for an external Redis" -}}
{{- end -}}
{{- end -}}

{{/* Pod annotations: config checksums roll the pods when models.toml or a secret changes. */}}
{{- define "photo-restore.podAnnotations" -}}
{{- if and .Values.models.toml (not .Values.models.existingConfigMap) }}
checksum/models: {{ .Values.models.toml | sha256sum }}
{{- end }}
checksum/secrets: {{ include "photo-restore.chartSecretData" . | sha256sum }}
{{- if not .Values.redis.existingSecret }}
checksum/redis-url: {{ include "photo-restore.redisUrl" . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "photo-restore.redisUrl" -}}
{{- if .Values.redis.url -}}
{{- .Values.redis.url -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "photo-restore.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by web and worker. */}}
{{- define "photo-restore.env" -}}
{{- $c := .Values.config -}}
{{- $plain := dict
      "OWNCLOUD_URL" $c.owncloudUrl
      "OWNCLOUD_USER" $c.owncloudUser
      "OWNCLOUD_DAV_PATH" $c.owncloudDavPath
      "WATCH_ROOT" $c.watchRoot
      "INBOX_NAME" $c.inboxName
      "OUTPUT_NAME" $c.outputName
      "DEFAULT_CHAIN" $c.defaultChain
      "HF_ROUTER_URL" $c.hfRouterUrl
      "HF_ENDPOINT" $c.hfEndpoint
      "AUTH_HEADER" $c.authHeader
      "TRUSTED_PROXIES" $c.trustedProxies
      "LOG_LEVEL" $c.logLevel
-}}
{{- range $k := keys $plain | sortAlpha }}
{{- $v := get $plain $k }}
{{- if $v }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
- name: POLL_INTERVAL
  value: {{ $c.pollInterval | quote }}
- name: LOG_JSON
  value: {{ ternary "true" "false" (eq (toString $c.logJson) "true") | quote }}
- name: DATA_DIR
  value: /data
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "photo-restore.redisUrlSecretName" . }}
      key: REDIS_URL
      {{- end }}
{{- if include "photo-restore.hasModels" . }}
- name: MODELS_FILE
  value: /etc/photo-restore/{{ .Values.models.key }}
{{- end }}
{{- $secretName := include "photo-restore.secretName" . }}
{{- $generate := include "photo-restore.generateDashboardPassword" . }}
{{- range $name, $s := .Values.secrets }}
{{- if or $s.existingSecret $s.value (and (eq $name "dashboardPassword") $generate) }}
- name: {{ $s.key }}
  valueFrom:
    secretKeyRef:
      name: {{ default $secretName $s.existingSecret }}
      key: {{ $s.key }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes shared by web and worker: writable /tmp and /data, read-only models.toml. */}}
{{- define "photo-restore.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: data
  {{- if .Values.persistence.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.persistence.sizeLimit }}
  {{- end }}
{{- if include "photo-restore.hasModels" . }}
- name: models
  configMap:
    name: {{ include "photo-restore.modelsConfigMapName" . }}
    items:
      - key: {{ .Values.models.key }}
        path: {{ .Values.models.key }}
{{- end }}
{{- end -}}

{{- define "photo-restore.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- if include "photo-restore.hasModels" . }}
- name: models
  mountPath: /etc/photo-restore
  readOnly: true
{{- end }}
{{- end -}}
