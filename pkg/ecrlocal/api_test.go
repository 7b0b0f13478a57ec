package ecrlocal

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

const (
	testKey    = "AKIDSTANDIN"
	testSecret = "standin-secret-key"
)

func startAPI(t *testing.T, now func() time.Time) (*httptest.Server, *tokens) {
	t.Helper()
	toks := newTokens(TokenTTL, now)
	srv := httptest.NewServer(newAPI(aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, "us-east-1",
		"https://123456789012.dkr.ecr.us-east-1.amazonaws.com", toks, now))
	t.Cleanup(srv.Close)
	return srv, toks
}

// ecrClient is the client publish uses, with static credentials and no retries.
func ecrClient(endpoint, region, key, secret, session string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: session}, nil
		}),
		Retryer: aws.NopRetryer{},
	})
}

func TestGetAuthorizationToken(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	srv, toks := startAPI(t, clk.Now)
	out, err := ecrClient(srv.URL, "us-east-1", testKey, testSecret, "").GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if user != User || len(pass) < 32 || !toks.valid(pass) {
		t.Errorf("token %q:%d chars, valid %v", user, len(pass), toks.valid(pass))
	}
	if want := clk.Now().Add(TokenTTL).Unix(); d.ExpiresAt == nil || d.ExpiresAt.Unix() != want {
		t.Errorf("expiresAt = %v, want %v", d.ExpiresAt, time.Unix(want, 0))
	}
	if aws.ToString(d.ProxyEndpoint) != "https://123456789012.dkr.ecr.us-east-1.amazonaws.com" {
		t.Errorf("proxyEndpoint = %s", aws.ToString(d.ProxyEndpoint))
	}
	// A second token does not revoke the first, as with ECR; both expire after the TTL.
	out2, err := ecrClient(srv.URL, "us-east-1", testKey, testSecret, "").GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := base64.StdEncoding.DecodeString(aws.ToString(out2.AuthorizationData[0].AuthorizationToken))
	_, pass2, _ := strings.Cut(string(raw2), ":")
	if pass2 == pass || !toks.valid(pass) || !toks.valid(pass2) {
		t.Errorf("second token: distinct %v, first still valid %v, second valid %v", pass2 != pass, toks.valid(pass), toks.valid(pass2))
	}
	clk.Add(TokenTTL - time.Second)
	if !toks.valid(pass) {
		t.Error("token expired before its TTL")
	}
	clk.Add(time.Second)
	if toks.valid(pass) || toks.valid(pass2) {
		t.Error("token valid at its expiry")
	}
}

func TestGetAuthorizationTokenRefused(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	srv, _ := startAPI(t, clk.Now)
	for _, tc := range []struct {
		name, region, key, secret, session, code string
		skew                                     time.Duration
	}{
		{name: "wrong secret", region: "us-east-1", key: testKey, secret: "not-the-secret", code: "InvalidSignatureException"},
		{name: "unknown key", region: "us-east-1", key: "AKIDOTHER", secret: testSecret, code: "UnrecognizedClientException"},
		{name: "session token not issued here", region: "us-east-1", key: testKey, secret: testSecret, session: "sess", code: "UnrecognizedClientException"},
		{name: "other region", region: "eu-west-1", key: testKey, secret: testSecret, code: "InvalidSignatureException"},
		{name: "signature too old", region: "us-east-1", key: testKey, secret: testSecret, skew: 16 * time.Minute, code: "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(tc.skew)
			defer clk.Add(-tc.skew)
			_, err := ecrClient(srv.URL, tc.region, tc.key, tc.secret, tc.session).GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

// TestSignatureCoversRequest changes a correctly signed request after signing: each change
// must be refused.
func TestSignatureCoversRequest(t *testing.T) {
	srv, _ := startAPI(t, time.Now)
	body := []byte("{}")
	signed := func(t *testing.T, target string) *http.Request {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
			req, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "ecr", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	const deleteRepository = "AmazonEC2ContainerRegistry_V20150921.DeleteRepository"
	for _, tc := range []struct {
		name   string
		change func(*http.Request)
		status int
	}{
		{"as signed", func(*http.Request) {}, http.StatusOK},
		{"other operation, signed", nil, http.StatusBadRequest},
		{"unsigned", func(r *http.Request) { r.Header.Del("Authorization") }, http.StatusBadRequest},
		{"other body", func(r *http.Request) { r.Body, r.ContentLength = http.NoBody, 0 }, http.StatusBadRequest},
		{"other operation", func(r *http.Request) { r.Header.Set("X-Amz-Target", deleteRepository) }, http.StatusBadRequest},
		{"other date", func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().Add(-time.Minute).UTC().Format("20060102T150405Z"))
		}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t, getAuthorizationToken)
			if tc.change == nil { // only GetAuthorizationToken is served, however well signed
				req = signed(t, deleteRepository)
			} else {
				tc.change(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
