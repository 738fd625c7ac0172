// Package jsclient holds the sources of the JavaScript client
// (@votecast/client) that the viewer pages share with it: the server
// bundles them into the pages from here, so the pages and partners' apps
// run the same code. The package itself is built with npm (clients/js/run).
package jsclient

import "embed"

// Shared are the client's modules the pages import, under src/; plain
// JavaScript with JSDoc types, so a page needs no TypeScript step.
//
//go:embed src/*.js
var Shared embed.FS
