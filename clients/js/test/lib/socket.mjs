// socket: the global WebSocket with a hand on the wire, given to the
// client as options.WebSocket. It records every frame the client sends
// (with the time) and every URL it connects to, and drops the server's
// acks while dropAcks is set: the connection losing an answer, as a phone
// going out of coverage would. The server behind it is the real one.

export function lossySocket() {
  const wire = { dropAcks: false, sent: [], urls: [] };
  class LossySocket {
    constructor(url) {
      wire.urls.push(url);
      const ws = new WebSocket(url);
      this.ws = ws;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      ws.onopen = (e) => this.onopen?.(e);
      ws.onmessage = (e) => {
        if (wire.dropAcks && JSON.parse(e.data).type === 'ack') return;
        this.onmessage?.(e);
      };
      ws.onclose = (e) => this.onclose?.(e);
      ws.onerror = (e) => this.onerror?.(e);
    }

    get readyState() { return this.ws.readyState; }

    send(data) {
      wire.sent.push({ at: Date.now(), frame: JSON.parse(data) });
      this.ws.send(data);
    }

    close(code, reason) { this.ws.close(code, reason); }
  }
  return { WebSocket: LossySocket, wire };
}
