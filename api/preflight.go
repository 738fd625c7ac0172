package api

import (
	"context"
	"net/http"
	"time"
)

// preflight answers GET /api/preflight: the node describing itself for
// votecast preflight. It reads the log and the store, so it has a
// deadline of its own; each part inside has a shorter one and reports
// what it could not read rather than failing the whole answer.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, h.opts.Preflight(ctx))
}
