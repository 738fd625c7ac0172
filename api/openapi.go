package api

import (
	_ "embed"
	"net/http"
)

// Contract is the HTTP API's OpenAPI 3.1 document, api/openapi.yaml. The
// api and waitroom tests check every request and answer they make against
// it, so it says what the server does.
//
//go:embed openapi.yaml
var Contract []byte

// contract serves GET /api/openapi.yaml.
func contract(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(Contract)
}
