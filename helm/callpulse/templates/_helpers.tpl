{{- define "callpulse.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "callpulse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "callpulse.labels" -}}
app.kubernetes.io/name: {{ include "callpulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "callpulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callpulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "callpulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "callpulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "callpulse.kafkaSecret" -}}
{{- default (printf "%s-kafka" (include "callpulse.fullname" .)) .Values.kafka.existingSecret -}}
{{- end -}}

{{- define "callpulse.settings" -}}
{{- $config := deepCopy .Values.config -}}
{{- $http := dict "host" "0.0.0.0" "port" (int .Values.service.port) -}}
{{- $_ := set $config "http" $http -}}
{{- $_ := set $config "rule_files" (list "rules.yaml") -}}
{{- $alerting := default dict $config.alerting -}}
{{- if not $alerting.external_url -}}
{{- $_ := set $alerting "external_url" (printf "http://%s.%s.svc:%d" (include "callpulse.fullname" .) .Release.Namespace (int .Values.service.port)) -}}
{{- end -}}
{{- if .Values.alerting.stateVolume -}}
{{- $_ := set $alerting "state_file" "/var/lib/callpulse/alerts.json" -}}
{{- end -}}
{{- $_ := set $config "alerting" $alerting -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "callpulse.rules" -}}
{{- if .Values.rules -}}
{{- toYaml (dict "rules" .Values.rules) -}}
{{- else -}}
{{- .Files.Get "files/rules.yaml" -}}
{{- end -}}
{{- end -}}
