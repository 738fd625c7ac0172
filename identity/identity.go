// Package identity says who a viewer is: the subject of a JWT signed by the
// partner's backend (HS256 with the viewer secret), or, when no secret is
// configured, an anonymous id kept in a cookie signed with a server key so a
// demo works in any browser.
//
// A Verifier is immutable after New and safe for concurrent use. Tokens are
// never logged; signatures are compared in constant time.
package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"

	"github.com/votecast/votecast/schema"
)

// ErrUnauthorized is wrapped by every refusal; the rest of the message is
// safe to show the viewer.
var ErrUnauthorized = errors.New("unauthorized")

// CookieName holds the anonymous viewer id.
const CookieName = "vc_viewer"

// MaxTokenBytes bounds a viewer token before it is parsed.
const MaxTokenBytes = 2048

// DefaultMaxTokenAge is the longest viewer-token lifetime accepted when
// Options.MaxTokenAge is zero. Tokens travel in the WebSocket URL, so they
// end up in proxy logs and browser history; a day bounds how long a leaked
// one is good for, while still outlasting any show, since partners mint a
// fresh token on every page load.
const DefaultMaxTokenAge = 24 * time.Hour

// leeway absorbs clock skew between the partner's backend and this node.
const leeway = 30 * time.Second

// Options configures New. Set exactly one of ViewerSecret and AnonKey.
type Options struct {
	// ViewerSecret is the HS256 key partners sign viewer tokens with.
	ViewerSecret []byte
	// AnonKey signs anonymous viewer cookies; used only without a secret.
	AnonKey []byte
	// MaxTokenAge is the longest lifetime a viewer token may have: exp
	// minus iat, or exp minus now for a token without iat. A token that
	// never expires, or only after weeks, would stay a way in after it
	// leaked. Zero value: DefaultMaxTokenAge.
	MaxTokenAge time.Duration
	// Now is the clock for token expiry; zero value: time.Now.
	Now func() time.Time
}

// Verifier identifies viewers.
type Verifier struct {
	opts   Options
	parser *jwt.Parser
}

// New validates opts.
func New(opts Options) (*Verifier, error) {
	if len(opts.ViewerSecret) == 0 && len(opts.AnonKey) < 16 {
		return nil, errors.New("new identity verifier: a viewer secret or an anonymous key of at least 16 bytes is required")
	}
	if len(opts.ViewerSecret) > 0 && len(opts.ViewerSecret) < 16 {
		return nil, errors.New("new identity verifier: the viewer secret must be at least 16 bytes")
	}
	if opts.MaxTokenAge < 0 {
		return nil, fmt.Errorf("new identity verifier: the maximum viewer token age %v is negative", opts.MaxTokenAge)
	}
	if opts.MaxTokenAge == 0 {
		opts.MaxTokenAge = DefaultMaxTokenAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{opts: opts, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(opts.Now),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		// An iat in the future would let a token claim a short lifetime
		// while expiring long after MaxTokenAge from now.
		jwt.WithIssuedAt(),
	)}, nil
}

// Anonymous reports whether viewers are identified by cookie.
func (v *Verifier) Anonymous() bool { return len(v.opts.ViewerSecret) == 0 }

// Identify returns the viewer's user id. In anonymous mode it also returns
// the sealed id, which the client may present again as ?viewer= where its
// cookie does not reach (a partner's frame blocks third-party cookies), and
// it mints an id and sets its cookie on w when the request has neither.
func (v *Verifier) Identify(w http.ResponseWriter, r *http.Request) (user, sealed string, err error) {
	if !v.Anonymous() {
		user, err = v.verifyToken(r.URL.Query().Get("token"))
		return user, "", err
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if id, ok := v.openCookie(c.Value); ok {
			return "anon:" + id, c.Value, nil
		}
	}
	if val := r.URL.Query().Get("viewer"); val != "" {
		if id, ok := v.openCookie(val); ok {
			return "anon:" + id, val, nil
		}
	}
	id := newAnonID()
	sealed = v.sealCookie(id)
	c := &http.Cookie{
		Name: CookieName, Value: sealed, Path: "/",
		MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if r.TLS != nil {
		// Over HTTPS the cookie may follow the widget into a partner's
		// frame, partitioned by the partner's site.
		c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
	return "anon:" + id, sealed, nil
}

func (v *Verifier) verifyToken(tok string) (string, error) {
	if tok == "" {
		return "", fmt.Errorf("%w: a viewer token is required", ErrUnauthorized)
	}
	if len(tok) > MaxTokenBytes {
		return "", fmt.Errorf("%w: viewer token too long", ErrUnauthorized)
	}
	claims := &jwt.RegisteredClaims{}
	_, err := v.parser.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return v.opts.ViewerSecret, nil })
	// The claims are checked only once the signature holds, so these
	// messages tell nothing to someone without the secret.
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "", fmt.Errorf("%w: viewer token has no expiry (exp)", ErrUnauthorized)
	case errors.Is(err, jwt.ErrTokenExpired):
		return "", fmt.Errorf("%w: viewer token expired", ErrUnauthorized)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "", fmt.Errorf("%w: viewer token issued in the future (iat); check the signing server's clock", ErrUnauthorized)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "", fmt.Errorf("%w: viewer token not valid yet (nbf)", ErrUnauthorized)
	case err != nil:
		return "", fmt.Errorf("%w: invalid viewer token", ErrUnauthorized)
	}
	if err := v.checkLifetime(claims); err != nil {
		return "", err
	}
	if !validSubject(claims.Subject) {
		return "", fmt.Errorf("%w: viewer token has no valid sub", ErrUnauthorized)
	}
	return claims.Subject, nil
}

// checkLifetime bounds how long a token stays good, whatever exp its signer
// chose.
func (v *Verifier) checkLifetime(c *jwt.RegisteredClaims) error {
	limit := v.opts.MaxTokenAge
	if c.ExpiresAt == nil { // the parser requires exp; kept should that option go
		return fmt.Errorf("%w: viewer token has no expiry (exp)", ErrUnauthorized)
	}
	exp := c.ExpiresAt.Time
	if c.IssuedAt != nil {
		if life := exp.Sub(c.IssuedAt.Time); life > limit {
			return fmt.Errorf("%w: viewer token lifetime %v is longer than the allowed %v", ErrUnauthorized, life, limit)
		}
		return nil
	}
	// Whole seconds, as exp is, so the message reads like the flag.
	if left := exp.Sub(v.opts.Now()).Round(time.Second); left > limit {
		return fmt.Errorf("%w: viewer token has no iat and expires in %v, later than the allowed lifetime %v", ErrUnauthorized, left, limit)
	}
	return nil
}

// validSubject keeps user ids printable and short enough for an event.
func validSubject(s string) bool {
	if s == "" || len(s) > schema.MaxUserBytes || strings.HasPrefix(s, "anon:") {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Mint signs a viewer token; used by the load generator and tests, and as
// the reference for partners' backends. A ttl longer than the verifier's
// MaxTokenAge gives a token it refuses.
func Mint(secret []byte, user string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{Subject: user, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint viewer token: %w", err)
	}
	return s, nil
}

func newAnonID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (v *Verifier) mac(id string) []byte {
	m := hmac.New(sha256.New, v.opts.AnonKey)
	m.Write([]byte(id))
	return m.Sum(nil)
}

func (v *Verifier) sealCookie(id string) string {
	return id + "." + base64.RawURLEncoding.EncodeToString(v.mac(id))
}

func (v *Verifier) openCookie(val string) (string, bool) {
	id, sig, ok := strings.Cut(val, ".")
	if !ok || len(id) != 16 || len(val) > 128 {
		return "", false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return "", false
	}
	return id, hmac.Equal(got, v.mac(id))
}
