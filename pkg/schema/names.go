package schema

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// NameRule is the rule of the findings about metadata.name and metadata.namespace.
const NameRule = "name"

// MaxEcho bounds how many bytes of an offending value a message repeats: names come from
// pull requests and may be megabytes long or carry control characters.
const MaxEcho = 100

// Quote is s for a message, bounded to MaxEcho bytes (escape.Quote).
func Quote(s string) string { return escape.Quote(s, MaxEcho) }

// ObjectID is Kind/namespace/name (Kind/name without a namespace) safe to print: each part
// that is long, or not plain printable text, is shown as Quote shows it. Findings locate
// objects with it, so that a hostile name cannot blow up or break the outputs.
func ObjectID(kind, namespace, name string) string {
	parts := []string{printable(kind)}
	if namespace != "" {
		parts = append(parts, printable(namespace))
	}
	return strings.Join(append(parts, printable(name)), "/")
}

// BoundID bounds an object ID that was built elsewhere from raw names (the policies, the
// renderer's duplicate check): returned as it is when short and printable.
func BoundID(id string) string {
	if len(id) <= 3*MaxEcho && isPrintable(id) {
		return id
	}
	return Quote(id)
}

func printable(s string) string {
	if len(s) <= MaxEcho && isPrintable(s) {
		return s
	}
	return Quote(s)
}

// isPrintable reports whether s is valid UTF-8 made only of graphic characters (letters,
// marks, numbers, punctuation, symbols) and ASCII spaces: no control, format (bidi
// overrides) or other invisible characters.
func isPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// nameRule is how the API server validates the name of one kind.
type nameRule struct {
	// what completes "names of <kind> must be ...".
	what  string
	check func(name string) []string
}

var (
	dnsSubdomain = nameRule{"DNS-1123 subdomains (at most 253 characters: lower case alphanumerics, '-' and '.')",
		func(s string) []string { return apimachineryvalidation.NameIsDNSSubdomain(s, false) }}
	dnsLabel = nameRule{"DNS-1123 labels (at most 63 characters: lower case alphanumerics and '-')",
		func(s string) []string { return apimachineryvalidation.NameIsDNSLabel(s, false) }}
	dns1035Label = nameRule{"DNS-1035 labels (at most 63 characters: lower case alphanumerics and '-', starting with a letter)",
		func(s string) []string { return apimachineryvalidation.NameIsDNS1035Label(s, false) }}
	// The API server only requires a path segment of RBAC names (no '/' or '%', not "." or
	// ".."): "system:controller:x" is valid. The platform also bounds them, because names
	// become plan file names and appear in comments: at most 253 bytes, printable.
	pathSegment = nameRule{"path segment names (no '/' or '%', not '.' or '..'; the platform also requires at most 253 bytes of printable UTF-8)",
		func(s string) []string {
			msgs := content.IsPathSegmentName(s)
			if len(s) > content.DNS1123SubdomainMaxLength {
				msgs = append(msgs, content.MaxLenError(content.DNS1123SubdomainMaxLength))
			}
			if !isPrintable(s) {
				msgs = append(msgs, "must be printable UTF-8 (no control, format or invalid characters)")
			}
			return msgs
		}}
	// A CronJob's Jobs are named <cronjob>-<11 characters> and must fit a 63-character label.
	cronJob = nameRule{"DNS-1123 subdomains of at most 52 characters (the controller appends an 11-character suffix to name Jobs)",
		func(s string) []string {
			msgs := apimachineryvalidation.NameIsDNSSubdomain(s, false)
			if len(s) > content.DNS1123LabelMaxLength-11 {
				msgs = append(msgs, "must be no more than 52 characters")
			}
			return msgs
		}}
)

// nameRules are the kinds whose names the API server (Kubernetes 1.35,
// k8s.io/kubernetes/pkg/apis/*/validation) does not validate as DNS-1123 subdomains, keyed
// by "group/Kind". Every other kind, custom resources included (apiextensions-apiserver
// validates them with NameIsDNSSubdomain), uses dnsSubdomain.
var nameRules = map[string]nameRule{
	"/Namespace": dnsLabel,
	// RelaxedServiceNameValidation (RFC 1123 labels) is alpha and off in 1.35.
	"/Service":                                     dns1035Label,
	"batch/CronJob":                                cronJob,
	"rbac.authorization.k8s.io/Role":               pathSegment,
	"rbac.authorization.k8s.io/ClusterRole":        pathSegment,
	"rbac.authorization.k8s.io/RoleBinding":        pathSegment,
	"rbac.authorization.k8s.io/ClusterRoleBinding": pathSegment,
}

func ruleFor(apiVersion, kind string) nameRule {
	group := ""
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		group = g
	}
	if r, ok := nameRules[group+"/"+kind]; ok {
		return r
	}
	return dnsSubdomain
}

// ValidateNames checks an object's metadata.name and metadata.namespace the way the API
// server does for its kind: a name or namespace it would reject is a violation. The
// messages say which rule applies and quote at most MaxEcho bytes of the value. An empty
// name is left to the decoder, which requires one; an empty namespace is allowed
// (cluster-scoped objects, or the release's namespace).
func ValidateNames(apiVersion, kind, namespace, name string) []Violation {
	var out []Violation
	if name != "" {
		r := ruleFor(apiVersion, kind)
		if msgs := r.check(name); len(msgs) > 0 {
			out = append(out, Violation{Path: "metadata.name",
				Message: fmt.Sprintf("%s names must be %s: %s is invalid: %s", printable(kind), r.what, Quote(name), strings.Join(msgs, "; "))})
		}
	}
	if namespace != "" {
		if msgs := apimachineryvalidation.ValidateNamespaceName(namespace, false); len(msgs) > 0 {
			out = append(out, Violation{Path: "metadata.namespace",
				Message: fmt.Sprintf("namespaces must be %s: %s is invalid: %s", dnsLabel.what, Quote(namespace), strings.Join(msgs, "; "))})
		}
	}
	return out
}
