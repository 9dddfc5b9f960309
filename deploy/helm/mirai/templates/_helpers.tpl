{{- define "mirai.labels" -}}
app.kubernetes.io/part-of: mirai
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "mirai.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "mirai.natsUrl" -}}
nats://{{ .Release.Name }}-nats:4222
{{- end -}}

{{- define "mirai.pgHost" -}}
{{ .Release.Name }}-pg-rw
{{- end -}}
