{{- define "bun13.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bun13.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bun13.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bun13.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bun13.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "bun13.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "bun13.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bun13.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "bun13.configMapName" -}}
{{- default (printf "%s-config" (include "bun13.fullname" .)) .Values.config.existingConfigMap -}}
{{- end -}}

{{- define "bun13.distributed" -}}
{{- if eq .Values.mode "distributed" -}}true{{- else if eq .Values.mode "single" -}}{{- else -}}{{- fail (printf "mode must be single or distributed, not %q" .Values.mode) -}}{{- end -}}
{{- end -}}
