{{/*
Helm's own labels on every object of this chart. They are the only difference between this
chart's CRDs and config/crd (plus the keep annotation); e2e/tests/helm.rs checks exactly that.
*/}}
{{- define "agw-crds.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
