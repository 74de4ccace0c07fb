{{/*
Helm's own labels, on the metadata of every object (never on selectors or pod templates, so
an upgrade never changes a Deployment's selector). They are what the drift test in
e2e/tests/helm.rs strips before comparing with config/default.
*/}}
{{- define "agw.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Labels of an object of component .name (agw-operator, agw-webhook); .root is $. */}}
{{- define "agw.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: agw
{{ include "agw.helmLabels" .root }}
{{- end }}

{{/* repository:tag of an image value (.image), the tag defaulting to the appVersion. */}}
{{- define "agw.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .root.Chart.AppVersion) }}
{{- end }}

{{/* The webhook Service's cluster DNS name, which its certificate must carry. */}}
{{- define "agw.webhookHost" -}}
{{- printf "agw-webhook.%s.svc" .Release.Namespace }}
{{- end }}

{{- define "agw.certManager" -}}
{{- if eq .Values.certificates.issuer "cert-manager" }}true{{ end }}
{{- end }}

{{/*
Fails the render when an optional feature needs an API the cluster does not serve, instead
of leaving Helm to fail half-way through an install. `helm template` checks against
--api-versions.
*/}}
{{- define "agw.requireAPI" -}}
{{- if not (.root.Capabilities.APIVersions.Has .api) }}
{{- fail (printf "%s needs the %s API, which this cluster does not serve: %s (for `helm template`, pass --api-versions %s)" .field .api .hint .api) }}
{{- end }}
{{- end }}
