{{/* Names and labels shared by every template. */}}
{{- define "meshbot.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meshbot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshbot.labels" -}}
app.kubernetes.io/name: {{ include "meshbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: meshbot
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meshbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bot
{{- end -}}

{{- define "meshbot.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "meshbot.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "meshbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding REDIS_URL, if any: an external Redis or the bundled one. */}}
{{- define "meshbot.redisSecret" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else if .Values.redis.bundled.enabled -}}
{{- default (printf "%s-redis" (include "meshbot.fullname" .)) .Values.redis.bundled.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "meshbot.redisSecretKey" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.existingSecretKey }}{{- else -}}REDIS_URL{{- end -}}
{{- end -}}

{{/* The rules of a deploy/rbac file (the one source of meshbot's RBAC, shared with Kustomize). */}}
{{- define "meshbot.rbacRules" -}}
{{- $doc := .root.Files.Get (printf "files/rbac/%s" .file) | fromYaml -}}
{{- if not $doc.rules -}}{{- fail (printf "files/rbac/%s has no rules (is the files/rbac link to deploy/rbac intact?)" .file) -}}{{- end -}}
{{- $rules := list -}}
{{- range $rule := $doc.rules -}}
{{- if or $.root.Values.rbac.readSecrets (not (has "secrets" $rule.resources)) -}}
{{- $rules = append $rules $rule -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
