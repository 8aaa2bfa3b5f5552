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

{{/* Where the pod finds the Kafka Secrets' files (the Deployment mounts them there). */}}
{{- define "callpulse.kafkaTlsDir" -}}/etc/callpulse-kafka-tls{{- end -}}
{{- define "callpulse.kafkaSaslDir" -}}/etc/callpulse-kafka-sasl{{- end -}}

{{/* "true" when callpulse authenticates to Kafka with SASL. */}}
{{- define "callpulse.kafkaSasl" -}}
{{- if or .Values.kafka.existingSecret .Values.kafka.sasl.username -}}true{{- end -}}
{{- end -}}

{{/* Seconds in a callpulse duration: a number, or a string such as "20s", "1m30s", "250ms". */}}
{{- define "callpulse.seconds" -}}
{{- $total := 0.0 -}}
{{- if not (kindIs "string" .) -}}
{{- $total = float64 . -}}
{{- else if regexMatch "^\\s*[0-9.]+\\s*$" . -}}
{{- $total = float64 (trim .) -}}
{{- else -}}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 -}}
{{- range regexFindAll "[0-9.]+(ms|s|m|h|d)" . -1 -}}
{{- $unit := regexFind "(ms|s|m|h|d)$" . -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit .)) (get $units $unit)) -}}
{{- end -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* The pod's grace: callpulse's shutdown_grace, rounded up, plus shutdownMarginSeconds. */}}
{{- define "callpulse.terminationGrace" -}}
{{- $grace := include "callpulse.seconds" (default 20 .Values.config.shutdown_grace) | float64 -}}
{{- add (int (ceil $grace)) .Values.shutdownMarginSeconds -}}
{{- end -}}

{{/* Enough startup probe failures to cover startupProbe.rebuildBudgetSeconds. */}}
{{- define "callpulse.startupFailures" -}}
{{- $period := int .Values.startupProbe.periodSeconds -}}
{{- div (add (int .Values.startupProbe.rebuildBudgetSeconds) (sub $period 1)) $period -}}
{{- end -}}

{{/* The Kafka settings the Secrets imply; a key config.source.kafka sets itself wins. */}}
{{- define "callpulse.kafkaSecurity" -}}
{{- $kafka := .kafka -}}
{{- $v := .values.kafka -}}
{{- $derived := dict -}}
{{- if $v.tls.secretName -}}
{{- $dir := include "callpulse.kafkaTlsDir" .root -}}
{{- $_ := set $derived "security_protocol" "SSL" -}}
{{- $_ := set $derived "ssl_cafile" (printf "%s/ca.crt" $dir) -}}
{{- if $v.tls.clientCertificate -}}
{{- $_ := set $derived "ssl_certfile" (printf "%s/tls.crt" $dir) -}}
{{- $_ := set $derived "ssl_keyfile" (printf "%s/tls.key" $dir) -}}
{{- end -}}
{{- end -}}
{{- if include "callpulse.kafkaSasl" .root -}}
{{- $_ := set $derived "security_protocol" (ternary "SASL_SSL" "SASL_PLAINTEXT" (not (empty $v.tls.secretName))) -}}
{{- $_ := set $derived "sasl_mechanism" $v.sasl.mechanism -}}
{{- $_ := set $derived "sasl_password_file" (printf "%s/password" (include "callpulse.kafkaSaslDir" .root)) -}}
{{- end -}}
{{- range $key, $value := $derived -}}
{{- if not (hasKey $kafka $key) -}}
{{- $_ := set $kafka $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "callpulse.settings" -}}
{{- $config := deepCopy .Values.config -}}
{{- $http := merge (dict "host" "0.0.0.0" "port" (int .Values.service.port)) (default dict $config.http) -}}
{{- $_ := set $config "http" $http -}}
{{- $source := default dict $config.source -}}
{{- $kafka := default dict $source.kafka -}}
{{- include "callpulse.kafkaSecurity" (dict "kafka" $kafka "values" .Values "root" .) -}}
{{- $_ := set $source "kafka" $kafka -}}
{{- $_ := set $config "source" $source -}}
{{- $_ := set $config "rule_files" (list "rules.yaml") -}}
{{- $alerting := default dict $config.alerting -}}
{{- if not $alerting.external_url -}}
{{- $_ := set $alerting "external_url" (printf "%s://%s.%s.svc:%d" (ternary "https" "http" .Values.web.tls) (include "callpulse.fullname" .) .Release.Namespace (int .Values.service.port)) -}}
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

{{/* Values that only make sense together: stop at install time rather than in the pod. */}}
{{- define "callpulse.checks" -}}
{{- if and .Values.web.tls (not .Values.web.configSecret) -}}
{{- fail "web.tls needs web.configSecret: the Secret whose web.yml has tls_server_config" -}}
{{- end -}}
{{- if and .Values.web.basicAuth.secretName (not .Values.web.configSecret) -}}
{{- fail "web.basicAuth needs web.configSecret: the Secret whose web.yml has basic_auth_users" -}}
{{- end -}}
{{- if and .Values.web.clientCertificate.secretName (not .Values.web.tls) -}}
{{- fail "web.clientCertificate needs web.tls: a client certificate is presented over TLS" -}}
{{- end -}}
{{- if and .Values.kafka.tls.clientCertificate (not .Values.kafka.tls.secretName) -}}
{{- fail "kafka.tls.clientCertificate needs kafka.tls.secretName: the Secret with tls.crt and tls.key" -}}
{{- end -}}
{{- end -}}
