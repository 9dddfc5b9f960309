{{- define "mirai.labels" -}}
app.kubernetes.io/part-of: mirai
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "mirai.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* A service's env-var stem: MIRAI_<SVC> with `-` as `_` (ai-gateway -> MIRAI_AI_GATEWAY). */}}
{{- define "mirai.svcVar" -}}
MIRAI_{{ . | upper | replace "-" "_" }}
{{- end -}}

{{- define "mirai.natsHost" -}}
{{ .Release.Name }}-nats
{{- end -}}

{{- define "mirai.natsUrl" -}}
{{ if .Values.nats.tls.enabled }}tls{{ else }}nats{{ end }}://{{ include "mirai.natsHost" . }}:4222
{{- end -}}

{{- define "mirai.pgCluster" -}}
{{ .Release.Name }}-pg
{{- end -}}

{{/* The primary's service: migrations connect here directly. */}}
{{- define "mirai.pgRwHost" -}}
{{ .Release.Name }}-pg-rw
{{- end -}}

{{/* The PgBouncer Pooler (type rw): services connect here. */}}
{{- define "mirai.poolerName" -}}
{{ .Release.Name }}-pg-pooler-rw
{{- end -}}

{{/* "30d" passes; sizes: bytes, or Ki/Mi/Gi/Ti, rendered as a byte count. */}}
{{- define "mirai.bytes" -}}
{{- $v := toString . -}}
{{- if regexMatch "^[0-9]+$" $v -}}{{ $v }}
{{- else if regexMatch "^[0-9]+Ki$" $v -}}{{ mul (trimSuffix "Ki" $v | int64) 1024 }}
{{- else if regexMatch "^[0-9]+Mi$" $v -}}{{ mul (trimSuffix "Mi" $v | int64) 1048576 }}
{{- else if regexMatch "^[0-9]+Gi$" $v -}}{{ mul (trimSuffix "Gi" $v | int64) 1073741824 }}
{{- else if regexMatch "^[0-9]+Ti$" $v -}}{{ mul (trimSuffix "Ti" $v | int64) 1099511627776 }}
{{- else -}}{{ fail (printf "size %q: give bytes, or a number with Ki/Mi/Gi/Ti (quoted)" $v) }}
{{- end -}}
{{- end -}}

{{/* Storage classes: set, and never NFS (values.schema.json says the same; this holds
     even where the schema is skipped). */}}
{{- define "mirai.storageClass" -}}
{{- $sc := .class | default "" -}}
{{- if not $sc -}}{{ fail (printf "%s.storage.storageClass must be set (a local or block storage class, not NFS)" .what) }}{{- end -}}
{{- if regexMatch "(?i)nfs" $sc -}}{{ fail (printf "%s.storage.storageClass %q is NFS: Postgres and JetStream need local or block storage" .what $sc) }}{{- end -}}
{{ $sc }}
{{- end -}}


{{/* A NetworkPolicy peer: pods with labels `.pods` (all, if empty) in namespaces labelled `.ns`. */}}
{{- define "mirai.np.peer" -}}
- namespaceSelector:
    matchLabels:
      {{- toYaml .ns | nindent 6 }}
  {{- if .pods }}
  podSelector:
    matchLabels:
      {{- toYaml .pods | nindent 6 }}
  {{- end }}
{{- end -}}
