/// The console's MQTT 3.1.1 client over a WebSocket (MQTT 3.1.1 section 6): binary frames,
/// subprotocol "mqtt", a message may carry several packets or part of one. It logs in with no
/// user name and no password: the session cookie sent with the upgrade says who it is.
enum ConsoleMQTTScript {
    static let source = #"""
    // ---- MQTT 3.1.1 over WebSocket ------------------------------------------------------------
    const utf8Encoder = new TextEncoder();
    const utf8Decoder = new TextDecoder();

    // CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
    const CONNACK_REASONS = {
      1: "unacceptable protocol version",
      2: "client identifier rejected",
      3: "server unavailable",
      4: "bad user name or password (session expired?)",
      5: "not authorized",
    };

    // Remaining Length: 7 bits a byte, least significant first, at most 4 bytes (section 2.2.3).
    function encodeLength(length) {
      const bytes = [];
      do {
        let digit = length % 128;
        length = Math.floor(length / 128);
        if (length > 0) digit |= 0x80;
        bytes.push(digit);
      } while (length > 0);
      return bytes;
    }

    // A UTF-8 string with its two-byte length (section 1.5.3).
    function encodeString(text) {
      const bytes = utf8Encoder.encode(text);
      return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
    }

    function packet(firstByte, body) {
      return new Uint8Array([firstByte, ...encodeLength(body.length), ...body]);
    }

    class MqttConnection {
      // handlers: onStateChange(state, detail), onMessage(topic, payloadText), onConnected()
      constructor(url, handlers) {
        this.url = url;
        this.handlers = handlers;
        this.keepAliveSeconds = 30;
        this.socket = null;
        this.buffer = new Uint8Array(0);
        this.nextPacketId = 1;
        this.pendingPublishes = new Map(); // packet id -> {resolve, reject}
        this.pendingSubscribes = new Map(); // packet id -> {resolve, reject}
        this.subscriptions = [];            // filters, subscribed again after each reconnect
        this.backoffMs = 1000;
        this.pingTimer = null;
        this.awaitingPong = false;
        this.reconnectTimer = null;
        this.connectTimer = null;
        this.connectTimeoutMs = 10000;
        this.connected = false;
        this.stopped = false;
      }

      start() {
        this.stopped = false;
        this.open();
      }

      open() {
        clearTimeout(this.reconnectTimer);
        this.handlers.onStateChange("connecting", "connecting…");
        let socket;
        try {
          socket = new WebSocket(this.url, "mqtt");
        } catch (error) {
          this.scheduleReconnect(String(error));
          return;
        }
        socket.binaryType = "arraybuffer";
        this.socket = socket;
        // A handshake or CONNACK that never comes (a proxy that holds the connection) counts as a failure.
        clearTimeout(this.connectTimer);
        this.connectTimer = setTimeout(() => this.fail("no answer to CONNECT"), this.connectTimeoutMs);
        this.buffer = new Uint8Array(0);
        socket.onopen = () => this.sendConnect();
        socket.onmessage = (event) => {
          if (typeof event.data === "string") { this.fail("text frame received"); return; }
          this.receive(new Uint8Array(event.data));
        };
        socket.onclose = (event) => this.closed(event.reason || "connection closed (" + event.code + ")");
        socket.onerror = () => {}; // onclose follows and says what happened
      }

      sendConnect() {
        // Protocol name "MQTT", level 4, flags: clean session only (no user name, no password,
        // no will), keep-alive, then the client identifier (section 3.1).
        const clientId = "console-" + Math.random().toString(36).slice(2, 12);
        const body = [...encodeString("MQTT"), 4, 0x02, this.keepAliveSeconds >> 8, this.keepAliveSeconds & 0xff, ...encodeString(clientId)];
        this.send(packet(0x10, body));
      }

      send(bytes) {
        if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
      }

      // Bytes of one WebSocket message: appended, then every whole packet taken out.
      receive(bytes) {
        const joined = new Uint8Array(this.buffer.length + bytes.length);
        joined.set(this.buffer, 0);
        joined.set(bytes, this.buffer.length);
        this.buffer = joined;
        for (;;) {
          if (this.buffer.length < 2) return;
          let length = 0, multiplier = 1, index = 1, complete = false;
          while (index < this.buffer.length && index <= 4) {
            const digit = this.buffer[index++];
            length += (digit & 0x7f) * multiplier;
            multiplier *= 128;
            if ((digit & 0x80) === 0) { complete = true; break; }
          }
          if (!complete) {
            if (index > 4) { this.fail("malformed remaining length"); }
            return; // the length itself is not all here yet
          }
          if (this.buffer.length < index + length) return;
          const first = this.buffer[0];
          const body = this.buffer.slice(index, index + length);
          this.buffer = this.buffer.slice(index + length);
          this.handlePacket(first, body);
          if (!this.socket) return;
        }
      }

      handlePacket(first, body) {
        const type = first >> 4;
        switch (type) {
          case 2: { // CONNACK
            const code = body[1];
            if (code !== 0) {
              const reason = CONNACK_REASONS[code] || "refused with code " + code;
              // 4 and 5: the session is not accepted; trying again will not help until a new login.
              if (code === 4 || code === 5) { this.stopped = true; }
              this.fail("refused: " + reason);
              return;
            }
            clearTimeout(this.connectTimer);
            this.connected = true;
            this.backoffMs = 1000;
            this.startPing();
            this.handlers.onStateChange("connected", "connected");
            const filters = this.subscriptions;
            this.subscriptions = [];
            if (filters.length > 0) this.subscribe(filters).catch(() => {});
            if (this.handlers.onConnected) this.handlers.onConnected();
            return;
          }
          case 3: { // PUBLISH
            const qos = (first >> 1) & 0x03;
            const topicLength = (body[0] << 8) | body[1];
            const topic = utf8Decoder.decode(body.slice(2, 2 + topicLength));
            let offset = 2 + topicLength;
            if (qos > 0) {
              const id = (body[offset] << 8) | body[offset + 1];
              offset += 2;
              if (qos === 1) this.send(packet(0x40, [id >> 8, id & 0xff])); // PUBACK
              else { this.fail("QoS 2 was not asked for"); return; }
            }
            this.handlers.onMessage(topic, utf8Decoder.decode(body.slice(offset)), (first & 0x01) === 1);
            return;
          }
          case 4: { // PUBACK
            const id = (body[0] << 8) | body[1];
            const pending = this.pendingPublishes.get(id);
            if (pending) { this.pendingPublishes.delete(id); pending.resolve(); }
            return;
          }
          case 9: { // SUBACK
            const id = (body[0] << 8) | body[1];
            const pending = this.pendingSubscribes.get(id);
            if (pending) { this.pendingSubscribes.delete(id); pending.resolve(Array.from(body.slice(2))); }
            return;
          }
          case 13: // PINGRESP
            this.awaitingPong = false;
            return;
          default:
            this.fail("unexpected packet type " + type);
        }
      }

      takePacketId() {
        const id = this.nextPacketId;
        this.nextPacketId = id === 0xffff ? 1 : id + 1;
        return id;
      }

      // Subscribes at QoS 1; resolves with the granted QoS of each filter (0x80: refused).
      subscribe(filters) {
        for (const filter of filters) if (!this.subscriptions.includes(filter)) this.subscriptions.push(filter);
        if (!this.connected) return Promise.resolve(null); // sent after CONNACK
        const id = this.takePacketId();
        const body = [id >> 8, id & 0xff];
        for (const filter of filters) body.push(...encodeString(filter), 1);
        return new Promise((resolve, reject) => {
          this.pendingSubscribes.set(id, { resolve, reject });
          this.send(packet(0x82, body));
        });
      }

      // QoS 0 resolves once sent; QoS 1 once the PUBACK came.
      publish(topic, text, qos) {
        if (!this.connected) return Promise.reject(new Error("not connected"));
        const payload = utf8Encoder.encode(text);
        const body = [...encodeString(topic)];
        if (qos === 1) {
          const id = this.takePacketId();
          body.push(id >> 8, id & 0xff, ...payload);
          return new Promise((resolve, reject) => {
            this.pendingPublishes.set(id, { resolve, reject });
            this.send(packet(0x32, body));
          });
        }
        body.push(...payload);
        this.send(packet(0x30, body));
        return Promise.resolve();
      }

      // PINGREQ at the keep-alive interval; no PINGRESP by the next one means the link is dead.
      startPing() {
        clearInterval(this.pingTimer);
        this.awaitingPong = false;
        this.pingTimer = setInterval(() => {
          if (this.awaitingPong) { this.fail("no answer to ping"); return; }
          this.awaitingPong = true;
          this.send(new Uint8Array([0xc0, 0x00]));
        }, this.keepAliveSeconds * 750);
      }

      fail(reason) {
        if (this.socket) {
          const socket = this.socket;
          socket.onclose = null;
          socket.close();
        }
        this.closed(reason);
      }

      closed(reason) {
        this.socket = null;
        this.connected = false;
        clearInterval(this.pingTimer);
        clearTimeout(this.connectTimer);
        for (const pending of this.pendingPublishes.values()) pending.reject(new Error("connection lost: " + reason));
        for (const pending of this.pendingSubscribes.values()) pending.reject(new Error("connection lost: " + reason));
        this.pendingPublishes.clear();
        this.pendingSubscribes.clear();
        if (this.stopped) {
          this.handlers.onStateChange("disconnected", "disconnected: " + reason);
          return;
        }
        this.scheduleReconnect(reason);
      }

      // Waits 1 s, then twice as long after each failure up to 30 s, with some jitter so that
      // many consoles do not come back at once after a restart.
      scheduleReconnect(reason) {
        const delay = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
        this.backoffMs = Math.min(this.backoffMs * 2, 30000);
        this.handlers.onStateChange("disconnected", "disconnected: " + reason + "; retrying in " + Math.ceil(delay / 1000) + " s");
        this.reconnectTimer = setTimeout(() => this.open(), delay);
      }
    }

    """#
}
