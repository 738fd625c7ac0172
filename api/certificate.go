package api

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/schema"
)

// Certifier makes and serves closed polls' certificates (certify.Service).
type Certifier interface {
	Certificate(ctx context.Context, poll schema.Poll) (certify.Certificate, error)
	Tree(ctx context.Context, poll schema.Poll) (*certify.Tree, certify.Payload, error)
	PublicKey() ed25519.PublicKey
}

// certifyWait bounds building a certificate: reading a poll's whole log.
const certifyWait = 2 * time.Minute

func (h *Handler) routeCertificates(m *http.ServeMux) {
	m.HandleFunc("GET /api/polls/{id}/certificate", h.certificate)
	m.HandleFunc("GET /api/polls/{id}/receipt", h.receipt)
	m.HandleFunc("GET /api/polls/{id}/export", h.admin(h.export))
	m.HandleFunc("GET /.well-known/votecast-key", h.publicKey)
}

// closedPoll finds a poll whose certificate may be asked for, or answers.
func (h *Handler) closedPoll(w http.ResponseWriter, r *http.Request) (schema.Poll, bool) {
	p, ok := h.opts.Catalog.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "poll not found")
		return p, false
	}
	if p.State != schema.Closed {
		writeError(w, http.StatusConflict, certify.ErrNotClosed.Error())
		return p, false
	}
	return p, true
}

// certifyFailed answers a certificate that could not be made or read.
func (h *Handler) certifyFailed(w http.ResponseWriter, p schema.Poll, err error) {
	h.log.Error("certify: make or read the certificate", "poll", p.ID, "err", err)
	writeError(w, http.StatusServiceUnavailable, "the certificate cannot be made now; try again shortly")
}

func (h *Handler) certificate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.closedPoll(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), certifyWait)
	defer cancel()
	c, err := h.opts.Certificates.Certificate(ctx, p)
	if err != nil {
		h.certifyFailed(w, p, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300") // never changes once made
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) receipt(w http.ResponseWriter, r *http.Request) {
	p, ok := h.closedPoll(w, r)
	if !ok {
		return
	}
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeError(w, http.StatusBadRequest, "seq must be the number of your receipt, a positive integer")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), certifyWait)
	defer cancel()
	t, _, err := h.opts.Certificates.Tree(ctx, p)
	if err != nil {
		h.certifyFailed(w, p, err)
		return
	}
	rc, err := t.Receipt(p.ID, seq)
	if errors.Is(err, certify.ErrNoEntry) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, rc)
}

func (h *Handler) export(w http.ResponseWriter, r *http.Request) {
	p, ok := h.closedPoll(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), certifyWait)
	defer cancel()
	t, _, err := h.opts.Certificates.Tree(ctx, p)
	if err != nil {
		h.certifyFailed(w, p, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="votecast-`+p.ID+`.ndjson"`)
	if err := certify.WriteExport(w, t.Entries); err != nil {
		h.log.Warn("export: the client went away", "poll", p.ID, "err", err)
	}
}

func (h *Handler) publicKey(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm":  "Ed25519",
		"public_key": base64.StdEncoding.EncodeToString(h.opts.Certificates.PublicKey()),
	})
}
