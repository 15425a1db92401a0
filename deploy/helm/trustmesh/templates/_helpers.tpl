{{/*
Names and labels shared by every template.
*/}}

{{- define "trustmesh.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one service's objects: <fullname>-<service>. Takes (list $ name). */}}
{{- define "trustmesh.serviceName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "trustmesh.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trustmesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: trustmesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: trustmesh
{{- end -}}

{{/* Selector labels of one service's pods. Takes (list $ name). */}}
{{- define "trustmesh.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: trustmesh
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The default block merged with one service's block. Takes (list $ name); returns YAML. */}}
{{- define "trustmesh.serviceConfig" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $own := index $root.Values.services $name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.default) (deepCopy $own)) -}}
{{- end -}}

{{/* Names of the enabled services, in a fixed order, as a JSON list. */}}
{{- define "trustmesh.enabledServices" -}}
{{- $enabled := list -}}
{{- range $name := list "auth" "payments" "ledger" "credential" "health-processing" "face" -}}
{{- $own := index $.Values.services $name | default dict -}}
{{- if ne (toString (index $own "enabled")) "false" -}}
{{- $enabled = append $enabled $name -}}
{{- end -}}
{{- end -}}
{{- toJson $enabled -}}
{{- end -}}

{{/* The Protobuf service a Trustmesh service serves, as its HTTP paths begin (/<name>/<Method>). Takes a service name. */}}
{{- define "trustmesh.protoService" -}}
{{- $names := dict "auth" "trustmesh.auth.v1.AuthService" "payments" "trustmesh.payments.v1.PaymentsService" "ledger" "trustmesh.ledger.v1.LedgerService" "credential" "trustmesh.credential.v1.CredentialService" "health-processing" "trustmesh.healthprocessing.v1.HealthProcessingService" "face" "trustmesh.face.v1.FaceService" -}}
{{- index $names . -}}
{{- end -}}

{{/*
Who calls whom (DESIGN.md §2, from the contracts' authz rules): every service
fetches auth's signing keys and service tokens; payments moves money on the
ledger; auth asks credential to issue credentials for verified contacts.
Returns the callers of a service as a JSON list. Takes a service name.
*/}}
{{- define "trustmesh.callersOf" -}}
{{- $callers := dict
  "auth" (list "payments" "ledger" "credential" "health-processing" "face")
  "ledger" (list "payments")
  "credential" (list "auth")
  "payments" (list)
  "health-processing" (list)
  "face" (list) -}}
{{- toJson (index $callers .) -}}
{{- end -}}

{{/* The services a service calls: the inverse of callersOf. Takes a service name. */}}
{{- define "trustmesh.calleesOf" -}}
{{- $name := . -}}
{{- $callees := list -}}
{{- range $callee := list "auth" "payments" "ledger" "credential" "health-processing" "face" -}}
{{- if has $name (include "trustmesh.callersOf" $callee | fromJsonArray) -}}
{{- $callees = append $callees $callee -}}
{{- end -}}
{{- end -}}
{{- toJson $callees -}}
{{- end -}}

{{/*
A service's image: the top-level `image`, with the service's own `image` block
(services.<name>.image) laid over it key by key, so one service can be pinned
or rolled on its own. The migration Job uses its service's image. Takes (list $ name).
*/}}
{{- define "trustmesh.image" -}}
{{- $root := index . 0 -}}
{{- $own := dict -}}
{{- with index $root.Values.services (index . 1) | default dict -}}
{{- $own = .image | default dict -}}
{{- end -}}
{{- $image := mergeOverwrite (deepCopy $root.Values.image) (deepCopy $own) -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository ($image.tag | default $root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- /*
The services that seal data at rest (DESIGN.md §4), each with the prefix of its
key-encryption variables: <PREFIX>_KEK_RING and <PREFIX>_KEK_ACTIVE_ID. Each gets its
own ring, so one service's key opens none of another's data.
*/ -}}
{{- define "trustmesh.sealingServices" -}}
{"auth": "AUTH", "payments": "PAYMENTS", "credential": "CREDENTIAL", "health-processing": "HEALTH", "face": "FACE"}
{{- end -}}

{{- define "trustmesh.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "trustmesh.fullname" .)) -}}
{{- end -}}

{{- define "trustmesh.databaseSecretName" -}}
{{- .Values.database.external.existingSecret | default (printf "%s-database" (include "trustmesh.fullname" .)) -}}
{{- end -}}

{{- define "trustmesh.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "trustmesh.fullname" .)) -}}
{{- end -}}

{{- define "trustmesh.cnpgClusterName" -}}
{{- printf "%s-postgres" (include "trustmesh.fullname" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Database and role name of a service: trustmesh_<service with underscores>. */}}
{{- define "trustmesh.databaseName" -}}
{{- printf "trustmesh_%s" (replace "-" "_" .) -}}
{{- end -}}

{{/* Redis logical database of a service: its index, as `npm start` does. */}}
{{- define "trustmesh.redisDatabase" -}}
{{- $index := dict "auth" 0 "payments" 1 "ledger" 2 "credential" 3 "health-processing" 4 "face" 5 -}}
{{- index $index . -}}
{{- end -}}

{{/* Hardened container security context, shared by services, the migration Job and the test pod. */}}
{{- define "trustmesh.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "trustmesh.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
DATABASE_URL of a service, with what it needs before it. Takes (list $ name).
External: a key of the database Secret. CloudNativePG: built from the
service's role password, which Kubernetes substitutes into $(DATABASE_PASSWORD).
*/}}
{{- define "trustmesh.databaseEnv" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- if eq $root.Values.database.mode "cloudnativepg" }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "trustmesh.serviceName" (list $root (printf "db-%s" $name)) }}
      key: password
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s-rw.%s.svc:5432/%s" (include "trustmesh.databaseName" $name) (include "trustmesh.cnpgClusterName" $root) $root.Release.Namespace (include "trustmesh.databaseName" $name) | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "trustmesh.databaseSecretName" $root }}
      key: {{ $name }}-database-url
{{- end }}
{{- end -}}

{{/*
auth's WebAuthn variables from `passkeys`. Both or neither: origins without their
relying party id would all be refused at start, and an id without origins leaves
only the development origin, so the chart fails early instead.
*/}}
{{- define "trustmesh.passkeysEnv" -}}
{{- $passkeys := .Values.passkeys -}}
{{- if and $passkeys.relyingPartyId (not $passkeys.origins) -}}
{{- fail "passkeys.origins is required when passkeys.relyingPartyId is set" -}}
{{- end -}}
{{- if and $passkeys.origins (not $passkeys.relyingPartyId) -}}
{{- fail "passkeys.relyingPartyId is required when passkeys.origins is set" -}}
{{- end -}}
{{- if $passkeys.relyingPartyId -}}
- name: AUTH_WEBAUTHN_RP_ID
  value: {{ $passkeys.relyingPartyId | quote }}
- name: AUTH_WEBAUTHN_ORIGINS
  value: {{ join "," $passkeys.origins | quote }}
{{- end -}}
{{- end -}}
