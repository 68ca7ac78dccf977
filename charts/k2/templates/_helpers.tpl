{{/* Names and labels shared by every template of the chart. */}}

{{/* The operator's name: <release>-operator (or fullnameOverride), at most 63 characters. */}}
{{- define "k2.operatorName" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The Spark drivers' ClusterRole, bound per pipeline by the operator: <operator name>-spark-driver. */}}
{{- define "k2.driverClusterRoleName" -}}
{{- printf "%s-spark-driver" (include "k2.operatorName" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "k2.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "k2.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "k2.selectorLabels" -}}
app.kubernetes.io/name: k2-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "k2.labels" -}}
{{ include "k2.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: k2-streaming
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* registry/repository:tag (tag defaults to appVersion), or @digest when one is given. */}}
{{- define "k2.image" -}}
{{- $repository := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The operator's rules, from files/operator-rules.yaml (the single source of its RBAC). */}}
{{- define "k2.operatorRules" -}}
{{- .Files.Get "files/operator-rules.yaml" | fromYaml | toJson -}}
{{- end -}}
