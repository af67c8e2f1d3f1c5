{{/* The name of the chart, or nameOverride. */}}
{{- define "bss-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, else the release name
when it already contains the chart name, else release-chart.
*/}}
{{- define "bss-api.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The selector: the name label alone, as k8s/deployment.yaml has it (a
DaemonSet's selector cannot change, so kubectl users can move to the chart).
*/}}
{{- define "bss-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bss-api.fullname" . }}
{{- end }}

{{/* Labels of every object: the selector and Helm's bookkeeping. */}}
{{- define "bss-api.labels" -}}
{{ include "bss-api.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "bss-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bss-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether the server has a credential method (else it listens on loopback only). */}}
{{- define "bss-api.hasCredentials" -}}
{{- $a := .Values.auth }}
{{- if or $a.kubernetes.enabled $a.tokenFile.secretName $a.clientCA.secretName $a.schedulerToken.secretName }}true{{ end }}
{{- end }}

{{/* The probes' and Service's scheme. */}}
{{- define "bss-api.scheme" -}}
{{- if .Values.auth.tls.secretName }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}
