// Package certify owns a closed poll's results certificate: the export of
// its log (hashed user ids and client keys, in log order), the Merkle tree
// over that export, the Ed25519-signed certificate that names the tree's
// root, the totals and the range of the log it covers, receipts (one
// vote's inclusion proof) and the offline check of an export against a
// certificate.
//
// The tree is RFC 6962's (Certificate Transparency): a leaf is one line of
// the export, so removing, adding, reordering or changing any line changes
// the root, and a viewer checks that their own vote is in the signed tree
// with about log2(N) hashes instead of the whole export.
package certify
