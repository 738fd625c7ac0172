// server: a real `votecast serve` for a test, the browser tests' own
// (e2e/lib/server.js): on 127.0.0.1 and a free port, with its own data
// directory and admin token; it can be stopped and started again on the
// same port and data. The binary is $VOTECAST_BIN (clients/js/run builds
// it), or one built on first use.

export { binary, freePort, ADMIN_TOKEN, Server } from '../../../../e2e/lib/server.js';
