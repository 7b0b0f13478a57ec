{{/*
common.images.image: "<registry>/<repository>:<tag>[@<digest>]" from an image map
{registry, repository, tag, digest}. The tag is required and never "latest".
*/}}
{{- define "common.images.image" -}}
{{- $tag := required (printf "image %s needs an explicit tag" .repository) .tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "image %s: the tag latest is not allowed" .repository) -}}
{{- end -}}
{{- $ref := printf "%s:%s" .repository $tag -}}
{{- if .registry -}}
{{- $ref = printf "%s/%s" .registry $ref -}}
{{- end -}}
{{- if .digest -}}
{{- $ref = printf "%s@%s" $ref .digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}
