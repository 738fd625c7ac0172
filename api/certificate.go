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
	Winners(ctx context.Context, poll schema.Poll, soldOut bool) (map[string]certify.Placing, error)
	Claim(poll, user string, p certify.Placing) (string, error)
}

// certifyWait bounds building a certificate: reading a poll's whole log.
const certifyWait = 2 * time.Minute

func (h *Handler) routeCertificates(m *http.ServeMux) {
	m.HandleFunc("GET /api/polls/{id}/certificate", h.certificate)
	m.HandleFunc("GET /api/polls/{id}/receipt", h.receipt)
	m.HandleFunc("GET /api/polls/{id}/export", h.admin(h.export))
	m.HandleFunc("GET /.well-known/votecast-key", h.publicKey)
	if h.opts.Identify != nil {
		m.HandleFunc("GET /api/polls/{id}/outcome", h.outcome)
	}
}

// outcome tells the viewer asking whether they won a giveaway, with the
// claim code of a win. Only the viewer themself: the user is the
// request's identity, never a parameter.
func (h *Handler) outcome(w http.ResponseWriter, r *http.Request) {
	p, ok := h.opts.Catalog.Get(r.PathValue("id"))
	if !ok || !p.Giveaway() {
		writeError(w, http.StatusNotFound, "giveaway not found")
		return
	}
	user, _, err := h.opts.Identify(w, r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	soldOut := false
	if h.opts.Totals != nil {
		if t, ok := h.opts.Totals.Totals(p.ID); ok && t.Giveaway != nil {
			soldOut = t.Giveaway.SoldOut
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), certifyWait)
	defer cancel()
	winners, err := h.opts.Certificates.Winners(ctx, p, soldOut)
	if errors.Is(err, certify.ErrUndecided) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		h.log.Error("giveaway: read the winners", "poll", p.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the winners cannot be read now; try again shortly")
		return
	}
	won, ok := winners[user]
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"won": false})
		return
	}
	code, err := h.opts.Certificates.Claim(p.ID, user, won)
	if err != nil {
		h.log.Error("giveaway: sign a claim", "poll", p.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the claim code cannot be signed now")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"won": true, "entry": won.Entry, "rank": won.Rank, "claim": code})
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

// tree reads a closed poll's export tree, or answers why it cannot.
func (h *Handler) tree(w http.ResponseWriter, r *http.Request, p schema.Poll) (*certify.Tree, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), certifyWait)
	defer cancel()
	t, _, err := h.opts.Certificates.Tree(ctx, p)
	if err != nil {
		h.certifyFailed(w, p, err)
		return nil, false
	}
	return t, true
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
	t, ok := h.tree(w, r, p)
	if !ok {
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
	t, ok := h.tree(w, r, p)
	if !ok {
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
