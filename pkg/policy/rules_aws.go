package policy

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The AWS resources the platform declares through AWS Controllers for Kubernetes (ACK): the
// Saga's SQS queues and the API Gateway HTTP API in front of the ingress gateway.
const (
	ackSQSGroup        = "sqs.services.k8s.aws/"
	ackAPIGatewayGroup = "apigatewayv2.services.k8s.aws/"
)

// ackKind returns the objects of an ACK group (apiVersion prefix) and kind.
func (env *Env) ackKind(group, kind string) []*Object {
	var out []*Object
	for _, o := range env.Kind(kind) {
		if strings.HasPrefix(o.APIVersion, group) {
			out = append(out, o)
		}
	}
	return out
}

// queueNameOfARN is the queue name an SQS ARN ends with (arn:aws:sqs:<region>:<account>:<name>).
func queueNameOfARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return ""
	}
	return parts[5]
}

// P04
func checkQueueDLQAndSSE(env *Env) []Violation {
	queues := env.ackKind(ackSQSGroup, "Queue")
	names := map[string]bool{}
	for _, q := range queues {
		names[str(get(q.Body, "spec", "queueName"))] = true
	}
	// Dead-letter queues are the targets of a redrive policy, or allow redrive into them.
	deadLetter := map[string]bool{}
	for _, q := range queues {
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		}
		if json.Unmarshal([]byte(str(get(q.Body, "spec", "redrivePolicy"))), &rp) == nil {
			deadLetter[queueNameOfARN(rp.DeadLetterTargetArn)] = true
		}
	}
	var out []Violation
	for _, q := range queues {
		name := str(get(q.Body, "spec", "queueName"))
		spec := mapOf(q.Body["spec"])
		if str(spec["sqsManagedSSEEnabled"]) != "true" && str(spec["kmsMasterKeyID"]) == "" && spec["kmsMasterKeyRef"] == nil {
			out = append(out, violation(q, "spec.sqsManagedSSEEnabled", "queue %s is not encrypted at rest: set sqsManagedSSEEnabled \"true\" (or a KMS key)", name))
		}
		if deadLetter[name] || str(spec["redriveAllowPolicy"]) != "" {
			continue
		}
		raw := str(spec["redrivePolicy"])
		if raw == "" {
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s has no dead-letter queue: a message that always fails is retried until it expires", name))
			continue
		}
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(raw), &rp); err != nil {
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s: redrivePolicy is not JSON: %v", name, err))
			continue
		}
		target := queueNameOfARN(rp.DeadLetterTargetArn)
		switch {
		case target == "":
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s: deadLetterTargetArn %q is not an SQS queue ARN", name, rp.DeadLetterTargetArn))
		case target == name:
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s is its own dead-letter queue", name))
		case !names[target]:
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s: dead-letter queue %s is not declared in %s", name, target, env.Name))
		}
		// SQS accepts the count as a JSON number or a numeric string.
		if n, ok := number(rp.MaxReceiveCount); !ok || float64(n) != toFloat(rp.MaxReceiveCount) || n < 1 || n > 1000 {
			out = append(out, violation(q, "spec.redrivePolicy", "queue %s: maxReceiveCount %v must be an integer from 1 to 1000", name, rp.MaxReceiveCount))
		}
	}
	return out
}

// refName is the name an ACK reference (`<field>Ref.from`) points at and its namespace
// (the referring object's by default); ok is false when the reference is absent.
func refName(o *Object, field string) (name, namespace string, ok bool) {
	from := mapOf(get(o.Body, "spec", field, "from"))
	if from == nil {
		return "", "", false
	}
	namespace = str(from["namespace"])
	if namespace == "" {
		namespace = o.Namespace
	}
	return str(from["name"]), namespace, true
}

// P05
func checkAPIReferences(env *Env) []Violation {
	index := func(kind string) map[string]bool {
		m := map[string]bool{}
		for _, o := range env.ackKind(ackAPIGatewayGroup, kind) {
			m[o.Namespace+"/"+o.Name] = true
		}
		return m
	}
	apis, integrations, vpcLinks, authorizers := index("API"), index("Integration"), index("VPCLink"), index("Authorizer")
	var out []Violation
	// must checks that a reference field resolves to a rendered object, or that the literal
	// id field is set instead (a resource managed outside this repository).
	must := func(o *Object, field, literal, kind string, objs map[string]bool, required bool) {
		if name, ns, ok := refName(o, field); ok {
			if !objs[ns+"/"+name] {
				out = append(out, violation(o, "spec."+field+".from.name", "%s %s refers to %s %s/%s, which is not declared in %s", o.Kind, o.Name, kind, ns, name, env.Name))
			}
			return
		}
		if required && str(get(o.Body, "spec", literal)) == "" {
			out = append(out, violation(o, "spec."+field, "%s %s names no %s (%s or %s)", o.Kind, o.Name, kind, field, literal))
		}
	}
	for _, kind := range []string{"Route", "Integration", "Stage", "Authorizer", "Deployment", "APIMapping"} {
		for _, o := range env.ackKind(ackAPIGatewayGroup, kind) {
			must(o, "apiRef", "apiID", "API", apis, true)
		}
	}
	for _, r := range env.ackKind(ackAPIGatewayGroup, "Route") {
		must(r, "targetRef", "target", "Integration", integrations, true)
		if t := str(get(r.Body, "spec", "target")); t != "" && !strings.HasPrefix(t, "integrations/") {
			out = append(out, violation(r, "spec.target", "Route %s: target %q must be integrations/<id>", r.Name, t))
		}
		must(r, "authorizerRef", "authorizerID", "Authorizer", authorizers, false)
	}
	for _, i := range env.ackKind(ackAPIGatewayGroup, "Integration") {
		if str(get(i.Body, "spec", "connectionType")) == "VPC_LINK" {
			must(i, "connectionRef", "connectionID", "VPCLink", vpcLinks, true)
		}
	}
	return out
}

// P06
func checkRouteAuthorization(env *Env) []Violation {
	var out []Violation
	for _, r := range env.ackKind(ackAPIGatewayGroup, "Route") {
		auth := str(get(r.Body, "spec", "authorizationType"))
		if auth == "" || auth == "NONE" {
			out = append(out, violation(r, "spec.authorizationType", "Route %s (%s) is open to anyone: set an authorizer (JWT, AWS_IAM, CUSTOM) or exempt it with the reason it is public", r.Name, str(get(r.Body, "spec", "routeKey"))))
		}
	}
	return out
}

// toFloat is a JSON number's value, or the number a string holds (NaN otherwise, which
// equals nothing).
func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f
		}
	}
	return math.NaN()
}
