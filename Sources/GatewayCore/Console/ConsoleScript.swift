/// `/console.js`: the MQTT client (`ConsoleMQTTScript`) and the page's code, one plain script
/// with no library. It reads `/api/session` and `/api/devices`, subscribes to each device's
/// `state`, `events`, `events/ack` and `$monitoring/<id>/json`, and publishes confirmed writes.
enum ConsoleScript {
    static let source = "\"use strict\";\n" + ConsoleMQTTScript.source + page

    private static let page = #"""
    // ---- The page ---------------------------------------------------------------------------
    const consoleState = {
      session: null,
      devices: new Map(),      // id -> {info, points: Map(name -> point), rows: Map(name -> row), card, values: Map}
      buses: new Map(),        // bus id -> {card, fields}
      pendingWrites: new Map(), // request id -> {device, point, value}
      connection: null,
      writeCounter: 0,
      confirmAction: null,
    };

    // An element with attributes and children (text children become text nodes, never HTML).
    function el(tag, attributes, ...children) {
      const node = document.createElement(tag);
      for (const [name, value] of Object.entries(attributes || {})) {
        if (value === null || value === undefined || value === false) continue;
        if (name === "className") node.className = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      }
      for (const child of children) {
        if (child === null || child === undefined) continue;
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
      return node;
    }

    function formatValue(value) {
      if (value === null || value === undefined) return "";
      if (Array.isArray(value)) return value.length ? value.join(", ") : "(none)";
      if (typeof value === "object") return JSON.stringify(value);
      return String(value);
    }

    function withUnit(text, point) {
      return point && point.unit && text !== "" ? text + " " + point.unit : text;
    }

    async function getJSON(path) {
      const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        window.location.assign("/login");
        throw new Error("not logged in");
      }
      if (!response.ok) throw new Error(path + ": " + response.status);
      return response.json();
    }

    function setConnectionState(state, detail) {
      const badge = document.getElementById("connection");
      badge.dataset.state = state;
      badge.textContent = detail;
      // A session that ended (logged out elsewhere, expired, gateway restarted) is why the
      // WebSocket is refused: back to the login page then, rather than retrying forever.
      if (state === "disconnected") getJSON("/api/session").catch(() => {});
    }

    function showNotice(text) {
      const notice = document.getElementById("notice");
      notice.textContent = text;
      notice.hidden = !text;
    }

    // ---- Devices ----------------------------------------------------------------------------

    function writeControl(device, point) {
      let input;
      if (point.labels) {
        input = el("select", { "data-role": "input", "aria-label": point.name + " value" },
                   el("option", { value: "" }, "choose…"),
                   ...point.labels.map((label) => el("option", { value: label }, label)));
      } else if (point.type === "bool" || point.type === "bit") {
        input = el("select", { "data-role": "input", "aria-label": point.name + " value" },
                   el("option", { value: "" }, "choose…"),
                   el("option", { value: "false" }, "false"), el("option", { value: "true" }, "true"));
      } else if (point.type === "string") {
        input = el("input", { type: "text", "data-role": "input", "aria-label": point.name + " value" });
      } else {
        input = el("input", { type: "number", step: "any", inputmode: "decimal", "data-role": "input",
                              "aria-label": point.name + " value", min: point.min, max: point.max,
                              placeholder: point.min !== undefined && point.max !== undefined ? point.min + "…" + point.max : "" });
      }
      const button = el("button", { type: "button", "data-role": "write" }, "Write…");
      button.addEventListener("click", () => askToWrite(device, point, input));
      return el("div", { className: "write" }, input, button);
    }

    function buildDevice(info) {
      const device = { info, points: new Map(), rows: new Map(), values: new Map(), card: null };
      const badge = el("span", { className: "badge", "data-role": "online" }, "unknown");
      const meta = info.bus ? "bus " + info.bus + " · unit " + info.unit + " · " + info.profile : "MQTT device (not polled)";
      const table = el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "point"), el("th", {}, "value"),
                           consoleState.session.canWrite ? el("th", { className: "set" }, "set") : null)));
      const body = el("tbody", {});
      for (const point of info.points) {
        device.points.set(point.name, point);
        const valueCell = el("td", { className: "value", "data-role": "value", "data-changes": "0" }, point.readable ? "…" : "");
        const row = el("tr", { "data-point": point.name, title: point.description || "" },
          el("td", {}, point.name),
          valueCell,
          consoleState.session.canWrite
            ? el("td", { className: point.writable ? "set" : "set none" }, point.writable ? writeControl(device, point) : "") : null);
        device.rows.set(point.name, { row, valueCell });
        body.append(row);
      }
      table.append(body);
      device.card = el("article", { className: "card device", "data-device": info.id },
        el("h3", {}, info.id, badge),
        el("p", { className: "meta" }, meta),
        el("p", { className: "error", "data-role": "error", hidden: true }),
        el("p", { className: "meta", "data-role": "link" }),
        info.points.length ? table : null,
        el("p", { className: "ack", "data-role": "ack", hidden: true }));
      return device;
    }

    // A point's current value (`current`: a reading, or {error}); `stale`: the last good one.
    function showValue(device, name, value, stale) {
      const entry = device.rows.get(name);
      if (!entry) return;
      const point = device.points.get(name);
      const cell = entry.valueCell;
      let text, className = "value";
      if (value && typeof value === "object" && !Array.isArray(value) && "error" in value) {
        text = "error: " + value.error;
        className += " failed";
      } else if (value === undefined && stale) {
        text = withUnit(formatValue(stale.value), point);
        className += " stale";
        cell.title = "last good value, read " + stale.ts;
      } else if (value === undefined) {
        text = "—";
      } else {
        text = withUnit(formatValue(value), point);
        cell.title = "";
      }
      const previous = device.values.get(name);
      if (value !== undefined && !className.includes("failed")) device.values.set(name, value);
      if (cell.textContent !== text) {
        if (cell.dataset.shown === "true" && !className.includes("stale")) {
          cell.dataset.changes = String(Number(cell.dataset.changes) + 1);
          className += " changed";
          setTimeout(() => cell.classList.remove("changed"), 800);
        }
        cell.textContent = text;
      }
      if (value !== undefined) cell.dataset.shown = "true";
      cell.className = className;
      return previous;
    }

    function applyState(device, state) {
      const badge = device.card.querySelector('[data-role="online"]');
      badge.dataset.online = String(state.online === true);
      badge.textContent = state.online ? "online" : "offline";
      device.card.dataset.online = String(state.online === true);
      const values = state.values || {};
      const stale = state.stale || {};
      for (const [name, point] of device.points) {
        if (!point.readable) continue;
        showValue(device, name, values[name], stale[name]);
      }
      const error = device.card.querySelector('[data-role="error"]');
      error.textContent = state.error ? "last error: " + state.error : "";
      error.hidden = !state.error;
    }

    function applyEvents(device, events) {
      for (const [name, value] of Object.entries(events)) {
        if (name === "ts") continue;
        showValue(device, name, value, undefined);
      }
      device.card.dataset.lastEvent = events.ts || "";
    }

    function applyAck(device, ack) {
      const pending = consoleState.pendingWrites.get(ack.id);
      if (!pending) return; // another client's command
      consoleState.pendingWrites.delete(ack.id);
      const line = device.card.querySelector('[data-role="ack"]');
      const parts = [ack.ok ? "ok" : "failed"];
      if (ack.written) parts.push("written " + Object.entries(ack.written).map(([k, v]) => k + " = " + formatValue(v)).join(", "));
      if (ack.readBack) parts.push("read back " + Object.entries(ack.readBack).map(([k, v]) => k + " = " + formatValue(v)).join(", "));
      if (ack.error) parts.push(ack.error);
      if (ack.exception) parts.push("exception " + ack.exception.code + " (" + ack.exception.name + ")");
      line.textContent = parts.join("; ");
      line.dataset.ack = ack.ok ? "ok" : "failed";
      line.dataset.ackId = ack.id;
      line.hidden = false;
    }

    // ---- Writes -----------------------------------------------------------------------------

    // The value typed, as the command's JSON value; an error text when it cannot be sent.
    function parseInput(point, raw) {
      if ((point.labels || point.type === "bool" || point.type === "bit") && raw === "") return { error: "choose a value" };
      if (point.labels) return { value: raw };
      if (point.type === "bool" || point.type === "bit") return { value: raw === "true" };
      if (point.type === "string") return { value: raw };
      if (raw.trim() === "") return { error: "enter a value" };
      const number = Number(raw);
      if (!Number.isFinite(number)) return { error: raw + " is not a number" };
      if (point.min !== undefined && number < point.min) return { error: "below the minimum " + point.min };
      if (point.max !== undefined && number > point.max) return { error: "above the maximum " + point.max };
      return { value: number };
    }

    function askToWrite(device, point, input) {
      const line = device.card.querySelector('[data-role="ack"]');
      const parsed = parseInput(point, input.value);
      if (parsed.error !== undefined) {
        line.textContent = point.name + ": " + parsed.error;
        line.dataset.ack = "invalid";
        line.hidden = false;
        return;
      }
      const current = device.values.has(point.name) ? formatValue(device.values.get(point.name)) : "unknown";
      const unit = point.unit ? " " + point.unit : "";
      document.getElementById("confirm-text").textContent =
        "Set " + device.info.id + " " + point.name + " from " + current + " to " + formatValue(parsed.value) + unit + "?";
      consoleState.confirmAction = () => sendWrite(device, point, parsed.value);
      document.getElementById("confirm").hidden = false;
      document.getElementById("confirm-yes").focus();
    }

    function closeConfirm() {
      document.getElementById("confirm").hidden = true;
      consoleState.confirmAction = null;
    }

    function sendWrite(device, point, value) {
      consoleState.writeCounter += 1;
      const id = "console-" + Date.now().toString(36) + "-" + consoleState.writeCounter;
      consoleState.pendingWrites.set(id, { device: device.info.id, point: point.name, value });
      const line = device.card.querySelector('[data-role="ack"]');
      line.textContent = "sent " + point.name + " = " + formatValue(value) + ", waiting for the acknowledgement…";
      line.dataset.ack = "pending";
      line.dataset.ackId = id;
      line.hidden = false;
      const topic = "$devices/" + device.info.id + "/commands/" + point.name;
      consoleState.connection.publish(topic, JSON.stringify({ value, id }), 1).catch((error) => {
        consoleState.pendingWrites.delete(id);
        line.textContent = "not sent: " + error.message;
        line.dataset.ack = "failed";
      });
    }

    // ---- Bus health -------------------------------------------------------------------------

    // Fields of `$monitoring/<id>/json` that describe the device's bus, with their labels;
    // the error counters by kind are shown when the gateway sends them.
    const BUS_FIELDS = [
      ["bus_cycle_ms", "cycle measured", " ms"],
      ["bus_cycle_predicted_ms", "cycle predicted", " ms"],
      ["modbus_transactions", "transactions", ""],
      ["modbus_failures", "failures", ""],
      ["modbus_timeouts", "timeouts", ""],
      ["modbus_crc_errors", "CRC errors", ""],
      ["modbus_exceptions", "exceptions", ""],
      ["modbus_stray_bytes", "stray bytes", ""],
      ["modbus_line_open", "line open", ""],
      ["modbus_line_opens", "line opens", ""],
      ["bus_server_clients", "server clients", ""],
    ];

    function applyMonitoring(deviceId, doc) {
      const device = consoleState.devices.get(deviceId);
      if (device && doc.modbus_link) {
        const link = device.card.querySelector('[data-role="link"]');
        link.textContent = "Modbus link: " + doc.modbus_link + (doc.modbus_last_error ? " (" + doc.modbus_last_error + ")" : "");
      }
      const busId = doc.modbus_bus;
      if (!busId) return;
      let bus = consoleState.buses.get(busId);
      if (!bus) {
        const container = document.getElementById("buses");
        if (consoleState.buses.size === 0) container.replaceChildren();
        const list = el("dl", {});
        bus = { card: el("article", { className: "card bus", "data-bus": busId }, el("h3", {}, "bus " + busId), list), list };
        consoleState.buses.set(busId, bus);
        container.append(bus.card);
      }
      const rows = [];
      for (const [key, label, suffix] of BUS_FIELDS) {
        if (!(key in doc)) continue;
        const value = doc[key] === null ? "—" : formatValue(doc[key]) + suffix;
        rows.push(el("dt", {}, label), el("dd", { "data-field": key }, value));
      }
      bus.list.replaceChildren(...rows);
    }

    // ---- MQTT -------------------------------------------------------------------------------

    function onMessage(topic, text) {
      const levels = topic.split("/");
      let doc;
      try { doc = JSON.parse(text); } catch { return; }
      if (levels[0] === "$monitoring" && levels[2] === "json") { applyMonitoring(levels[1], doc); return; }
      if (levels[0] !== "$devices") return;
      const device = consoleState.devices.get(levels[1]);
      if (!device || doc === null || typeof doc !== "object") return;
      const rest = levels.slice(2).join("/");
      if (rest === "state") applyState(device, doc);
      else if (rest === "events") applyEvents(device, doc);
      else if (rest === "events/ack") applyAck(device, doc);
    }

    function topicsToFollow() {
      const topics = [];
      for (const id of consoleState.devices.keys()) {
        // A device login may read only its registry's monitoring, not device topics (IOT-CORE.md).
        if (consoleState.session.kind === "registry") {
          // `state` exactly (not through a wildcard), so the broker replays the stored one.
          topics.push("$devices/" + id + "/state", "$devices/" + id + "/events", "$devices/" + id + "/events/ack");
        }
        topics.push("$monitoring/" + id + "/json");
      }
      return topics;
    }

    // ---- Tabs and start ---------------------------------------------------------------------

    async function showTab(name) {
      for (const button of document.querySelectorAll(".tab")) button.setAttribute("aria-pressed", String(button.dataset.tab === name));
      document.getElementById("view-devices").hidden = name !== "devices";
      document.getElementById("view-config").hidden = name !== "config";
      if (name === "config") {
        const text = document.getElementById("config-text");
        try {
          text.textContent = JSON.stringify(await getJSON("/api/config"), null, 2);
        } catch (error) {
          text.textContent = "could not load the configuration: " + error.message;
        }
      }
    }

    async function start() {
      for (const button of document.querySelectorAll(".tab")) button.addEventListener("click", () => showTab(button.dataset.tab));
      document.getElementById("confirm-yes").addEventListener("click", () => {
        const action = consoleState.confirmAction;
        closeConfirm();
        if (action) action();
      });
      document.getElementById("confirm-no").addEventListener("click", closeConfirm);
      document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeConfirm(); });

      consoleState.session = await getJSON("/api/session");
      document.getElementById("entity").textContent = consoleState.session.kind + " " + consoleState.session.entity;
      if (!consoleState.session.canWrite) {
        showNotice("Logged in as a device: live values and writes need a registry login; bus health is shown.");
      }
      const { devices } = await getJSON("/api/devices");
      const container = document.getElementById("devices");
      for (const info of devices) {
        const device = buildDevice(info);
        consoleState.devices.set(info.id, device);
        container.append(device.card);
      }
      if (devices.length === 0) container.append(el("p", { className: "muted" }, "No device."));

      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      consoleState.connection = new MqttConnection(scheme + window.location.host + "/mqtt", {
        onStateChange: setConnectionState,
        onMessage,
        onConnected: () => {},
      });
      consoleState.connection.subscribe(topicsToFollow());
      consoleState.connection.start();
    }

    start().catch((error) => setConnectionState("disconnected", "could not start: " + error.message));

    """#
}
