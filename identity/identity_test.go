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
	v, err := New(Options{ViewerSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := Mint(secret, "viewer-42", time.Hour)
	expired, _ := Mint(secret, "viewer-42", -time.Hour)
	other, _ := Mint([]byte("another-secret-of-32-bytes-long!"), "viewer-42", time.Hour)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "x"})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{}).SignedString(secret)
	tests := []struct {
		name, token, wantUser, wantErr string
	}{
		{"valid", good, "viewer-42", ""},
		{"missing", "", "", "a viewer token is required"},
		{"expired", expired, "", "viewer token expired"},
		{"wrong key", other, "", "invalid viewer token"},
		{"alg none", noneTok, "", "invalid viewer token"},
		{"no sub", noSub, "", "no valid sub"},
		{"garbage", "a.b.c", "", "invalid viewer token"},
		{"huge", strings.Repeat("a", MaxTokenBytes+1), "", "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
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
		})
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
