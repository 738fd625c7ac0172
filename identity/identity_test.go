package identity

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestVerifyToken(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	sign := func(key []byte, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherKey := []byte("another-secret-of-32-bytes-long!")
	good, _ := Mint(secret, "viewer-42", time.Hour)
	expired, _ := Mint(secret, "viewer-42", -time.Hour)
	mintedLong, _ := Mint(secret, "viewer-42", 2*time.Hour)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "viewer-42", ExpiresAt: at(time.Hour)})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name, token string
		maxAge      time.Duration // zero: the default
		wantUser    string
		wantErr     string
	}{
		{"minted", good, 0, "viewer-42", ""},
		{"within the max, no iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", ExpiresAt: at(23 * time.Hour)}), 0, "viewer-42", ""},
		{"exactly the max, with iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", IssuedAt: at(-time.Hour), ExpiresAt: at(23 * time.Hour)}), 0, "viewer-42", ""},
		{"no exp", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42"}), 0, "", "viewer token has no expiry"},
		{"no exp, with iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", IssuedAt: at(0)}), 0, "", "viewer token has no expiry"},
		{"exp in the past", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", ExpiresAt: at(-time.Minute)}), 0, "", "viewer token expired"},
		{"minted expired", expired, 0, "", "viewer token expired"},
		{"lifetime over the max, with iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", IssuedAt: at(-time.Hour), ExpiresAt: at(719 * time.Hour)}), 0, "", "viewer token lifetime 720h0m0s is longer than the allowed 24h0m0s"},
		{"lifetime over the max, no iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", ExpiresAt: at(720 * time.Hour)}), 0, "", "expires in 720h0m0s, later than the allowed lifetime 24h0m0s"},
		{"short lifetime claimed by a future iat", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", IssuedAt: at(700 * time.Hour), ExpiresAt: at(720 * time.Hour)}), 0, "", "issued in the future"},
		{"minted over a configured max", mintedLong, time.Hour, "", "viewer token lifetime 2h0m0s is longer than the allowed 1h0m0s"},
		{"not valid yet", sign(secret, jwt.RegisteredClaims{Subject: "viewer-42", NotBefore: at(time.Hour), ExpiresAt: at(2 * time.Hour)}), 0, "", "not valid yet"},
		{"wrong signature", sign(otherKey, jwt.RegisteredClaims{Subject: "viewer-42", ExpiresAt: at(time.Hour)}), 0, "", "invalid viewer token"},
		// The claims are judged only after the signature: a forger learns nothing from them.
		{"wrong signature, no exp", sign(otherKey, jwt.RegisteredClaims{Subject: "viewer-42"}), 0, "", "invalid viewer token"},
		{"alg none", noneTok, 0, "", "invalid viewer token"},
		{"missing", "", 0, "", "a viewer token is required"},
		{"no sub", sign(secret, jwt.RegisteredClaims{ExpiresAt: at(time.Hour)}), 0, "", "no valid sub"},
		{"garbage", "a.b.c", 0, "", "invalid viewer token"},
		{"huge", strings.Repeat("a", MaxTokenBytes+1), 0, "", "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(Options{ViewerSecret: secret, MaxTokenAge: tc.maxAge, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/ws?token="+tc.token, nil)
			user, _, err := v.Identify(httptest.NewRecorder(), r)
			if tc.wantErr == "" {
				if err != nil || user != tc.wantUser {
					t.Fatalf("Identify = %q, %v; want %q", user, err, tc.wantUser)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Identify error = %v, want %q", err, tc.wantErr)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("the error echoes the token")
			}
		})
	}
}

func TestNewRejectsNegativeMaxTokenAge(t *testing.T) {
	if _, err := New(Options{ViewerSecret: secret, MaxTokenAge: -time.Hour}); err == nil {
		t.Fatal("New accepted a negative MaxTokenAge")
	}
}

func TestAnonymousCookie(t *testing.T) {
	v, err := New(Options{AnonKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	first, sealed, err := v.Identify(rec, httptest.NewRequest("GET", "/ws", nil))
	if err != nil || !strings.HasPrefix(first, "anon:") {
		t.Fatalf("first Identify = %q, %v", first, err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("cookies = %+v, want one HttpOnly cookie", cookies)
	}
	again := httptest.NewRequest("GET", "/ws", nil)
	again.AddCookie(cookies[0])
	rec2 := httptest.NewRecorder()
	if second, _, _ := v.Identify(rec2, again); second != first {
		t.Fatalf("same cookie gave %q, want %q", second, first)
	}
	if len(rec2.Result().Cookies()) != 0 {
		t.Fatal("a valid cookie was replaced")
	}
	forged := httptest.NewRequest("GET", "/ws", nil)
	forged.AddCookie(&http.Cookie{Name: CookieName, Value: strings.TrimPrefix(first, "anon:") + ".AAAA"})
	if third, _, _ := v.Identify(httptest.NewRecorder(), forged); third == first {
		t.Fatal("a forged cookie was accepted")
	}
	// Where no cookie reaches (a partner's frame), the sealed id does.
	byParam := httptest.NewRequest("GET", "/ws?viewer="+sealed, nil)
	if fourth, _, _ := v.Identify(httptest.NewRecorder(), byParam); fourth != first {
		t.Fatalf("?viewer= gave %q, want %q", fourth, first)
	}
	forgedParam := httptest.NewRequest("GET", "/ws?viewer="+strings.TrimPrefix(first, "anon:")+".AAAA", nil)
	if fifth, _, _ := v.Identify(httptest.NewRecorder(), forgedParam); fifth == first {
		t.Fatal("a forged ?viewer= was accepted")
	}
}
