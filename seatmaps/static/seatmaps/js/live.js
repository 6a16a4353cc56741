/**
 * WebSocket clients (protocol in docs/realtime.md).
 *
 * EventFeed follows /ws/events/<id>/: a snapshot, then batches of deltas with sequence numbers;
 * a gap asks for a resync, a reconnect asks for the missed changes with ?since=<seq>. MyFeed follows /ws/me/: this buyer's booking updates. Pushes are
 * hints, so both reconnect with backoff and the page keeps REST as the truth.
 */

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

class ReconnectingSocket {
  constructor(path, { finalCodes = [] } = {}) {
    this.path = path;
    this.finalCodes = finalCodes;
    this.retries = 0;
    this.stopped = false;
    this.ws = null;
  }

  connect() {
    const ws = new WebSocket(socketUrl(this.url()));
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retries = 0;
      this.opened();
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(message);
    });
    ws.addEventListener("close", (event) => {
      this.closed(event.code);
      if (this.stopped || this.finalCodes.includes(event.code)) return;
      const delay = Math.min(15000, 500 * 2 ** this.retries) * (0.75 + Math.random() / 2);
      this.retries += 1;
      setTimeout(() => this.connect(), delay);
    });
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }

  url() {
    return this.path;
  }

  opened() {}

  closed() {}

  handle() {}
}

export class EventFeed extends ReconnectingSocket {
  /**
   * @param {string} path /ws/events/<id>/
   * @param {{onSnapshot: Function, onChanges: Function, onState?: Function}} handlers
   * @param {number} seq the sequence number the page's embedded statuses are current at
   */
  constructor(path, { onSnapshot, onChanges, onState = () => {} }, seq = 0) {
    super(path, { finalCodes: [4404] });
    this.onSnapshot = onSnapshot;
    this.onChanges = onChanges;
    this.onState = onState;
    this.last = seq;
    this.waiting = true; // until a snapshot arrives
    this.synced = false; // had a snapshot: a reconnect can ask for the missed changes only
    this.resuming = false;
    this.state = "connecting";
  }

  url() {
    // Reconnect with ?since=<last>: the server replays what was missed (or sends a snapshot
    // when its log no longer has it), instead of a full snapshot for every reconnect.
    this.resuming = this.synced && !this.waiting;
    if (!this.resuming) return this.path;
    return `${this.path}${this.path.includes("?") ? "&" : "?"}since=${this.last}`;
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  opened() {
    if (this.resuming) {
      this.setState("live");
      return;
    }
    this.waiting = true;
    this.setState("syncing");
  }

  closed() {
    this.setState("offline");
  }

  /** One message from the server (public so benchmarks can feed batches in directly). */
  handle(message) {
    if (message.type === "snapshot") {
      this.last = message.seq;
      this.waiting = false;
      this.synced = true;
      this.onSnapshot(message.seats.held || [], message.seats.sold || []);
      this.setState("live");
    } else if (message.type === "deltas") {
      if (this.waiting) return;
      const apply = [];
      for (const change of message.changes) {
        if (change.seq <= this.last) continue;
        if (change.seq !== this.last + 1) {
          // A change was lost (channel full, expired): start over from a snapshot.
          if (apply.length) this.onChanges(apply);
          this.resync();
          return;
        }
        apply.push(change);
        this.last = change.seq;
      }
      if (apply.length) this.onChanges(apply);
    } else if (message.type === "resync") {
      // The server dropped this client's backlog (it fell behind); a snapshot follows.
      this.waiting = true;
      this.setState("syncing");
    }
  }

  resync() {
    this.waiting = true;
    this.setState("syncing");
    this.send({ type: "resync" });
  }
}

export class MyFeed extends ReconnectingSocket {
  constructor(path, onBooking) {
    super(path, { finalCodes: [4401] });
    this.onBooking = onBooking;
  }

  handle(message) {
    if (message.type === "booking" && message.booking) this.onBooking(message.booking);
  }
}
