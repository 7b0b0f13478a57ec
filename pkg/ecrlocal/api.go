package ecrlocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// getAuthorizationToken is the X-Amz-Target of the one operation the API serves.
const getAuthorizationToken = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"

// maxSkew is how far a request's X-Amz-Date may be from the clock, as AWS allows.
const maxSkew = 15 * time.Minute

// tokens are the registry passwords issued and not yet expired. Only their hashes are
// kept: the map is a verifier, not a store of secrets.
type tokens struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	exp map[[sha256.Size]byte]time.Time
}

func newTokens(ttl time.Duration, now func() time.Time) *tokens {
	return &tokens{ttl: ttl, now: now, exp: map[[sha256.Size]byte]time.Time{}}
}

// issue returns a new random token and its expiry. Earlier tokens stay valid until their
// own expiry, as ECR's do.
func (t *tokens) issue() (string, time.Time, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for h, exp := range t.exp {
		if !now.Before(exp) {
			delete(t.exp, h)
		}
	}
	exp := now.Add(t.ttl)
	t.exp[sha256.Sum256([]byte(token))] = exp
	return token, exp, nil
}

// valid reports whether token was issued here and has not expired.
func (t *tokens) valid(token string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.exp[sha256.Sum256([]byte(token))]
	return ok && t.now().Before(exp)
}

// api serves ECR's GetAuthorizationToken over the AWS JSON 1.1 protocol to a caller that
// signs with SigV4 using the one configured static key.
type api struct {
	creds         aws.Credentials
	region        string
	proxyEndpoint string
	tokens        *tokens
	now           func() time.Time
	signer        *v4.Signer
}

func newAPI(creds aws.Credentials, region, proxyEndpoint string, toks *tokens, now func() time.Time) *api {
	return &api{creds: creds, region: region, proxyEndpoint: proxyEndpoint, tokens: toks, now: now, signer: v4.NewSigner()}
}

// awsError is the JSON protocol's error shape; the SDK maps __type to the error code.
func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		awsError(w, http.StatusNotFound, "UnknownOperationException", "not found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", "read body")
		return
	}
	if code, msg := a.verify(r, body); code != "" {
		awsError(w, http.StatusBadRequest, code, msg)
		return
	}
	if r.Header.Get("X-Amz-Target") != getAuthorizationToken {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "only GetAuthorizationToken is served here")
		return
	}
	token, exp, err := a.tokens.issue()
	if err != nil {
		awsError(w, http.StatusInternalServerError, "ServerException", "issue token")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": base64.StdEncoding.EncodeToString([]byte(User + ":" + token)),
		"expiresAt":          float64(exp.Unix()),
		"proxyEndpoint":      a.proxyEndpoint,
	}}})
}

// verify checks the request's SigV4 signature by signing a copy of it (the headers it
// names as signed, the same body, the same time) with the configured secret and comparing
// the Authorization headers. It returns AWS's error code and message, or "" when valid.
func (a *api) verify(r *http.Request, body []byte) (code, msg string) {
	const invalid = "InvalidSignatureException"
	authz := r.Header.Get("Authorization")
	fields, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "MissingAuthenticationTokenException", "missing SigV4 authentication"
	}
	var credential, signedHeaders string
	for _, f := range strings.Split(fields, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "IncompleteSignatureException", "malformed credential scope"
	}
	if subtle.ConstantTimeCompare([]byte(scope[0]), []byte(a.creds.AccessKeyID)) != 1 ||
		r.Header.Get("X-Amz-Security-Token") != a.creds.SessionToken {
		return "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if scope[2] != a.region || scope[3] != "ecr" {
		return invalid, fmt.Sprintf("credential should be scoped to region %s, service ecr", a.region)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || scope[1] != at.Format("20060102") {
		return invalid, "missing or malformed X-Amz-Date"
	}
	if d := a.now().Sub(at); d > maxSkew || d < -maxSkew {
		return invalid, "Signature expired: X-Amz-Date is more than 15 minutes from the server's time"
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return invalid, "payload hash mismatch"
	}
	copyReq, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return invalid, "malformed request"
	}
	copyReq.Host = r.Host
	copyReq.ContentLength = int64(len(body))
	for _, h := range strings.Split(signedHeaders, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		copyReq.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	if err := a.signer.SignHTTP(context.Background(), a.creds, copyReq, payloadHash, "ecr", a.region, at); err != nil {
		return invalid, "sign: " + err.Error()
	}
	if subtle.ConstantTimeCompare([]byte(copyReq.Header.Get("Authorization")), []byte(authz)) != 1 {
		return invalid, "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}
