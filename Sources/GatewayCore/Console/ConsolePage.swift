/// The console page: a frame the script fills in (devices, buses, config). Element ids and
/// `data-` attributes are what the browser test (Tests/Peers/console_browser.py) looks for.
enum ConsolePage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <title>modbridge console</title>
    <link rel="stylesheet" href="/console.css">
    <script src="/console.js" defer></script>
    </head>
    <body>
    <header>
      <h1>modbridge</h1>
      <span id="entity" class="entity"></span>
      <span id="connection" class="connection" data-state="connecting" role="status">connecting…</span>
      <nav>
        <button type="button" id="tab-devices" class="tab" data-tab="devices" aria-pressed="true">Devices</button>
        <button type="button" id="tab-config" class="tab" data-tab="config" aria-pressed="false">Config</button>
      </nav>
      <form method="post" action="/logout" id="logout-form">
        <button type="submit" id="logout">Log out</button>
      </form>
    </header>
    <main>
      <section id="view-devices" class="view">
        <p id="notice" class="notice" hidden></p>
        <h2>Devices</h2>
        <div id="devices" class="devices"></div>
        <h2>Buses</h2>
        <div id="buses" class="buses"><p class="muted">No bus health received yet.</p></div>
      </section>
      <section id="view-config" class="view" hidden>
        <h2>Configuration in use</h2>
        <p class="muted">Credentials are shown as counts only.</p>
        <pre id="config-text">loading…</pre>
      </section>
    </main>
    <div id="confirm" class="confirm" hidden role="dialog" aria-modal="true" aria-labelledby="confirm-text">
      <div class="confirm-box">
        <p id="confirm-text"></p>
        <button type="button" id="confirm-yes" class="primary">Confirm</button>
        <button type="button" id="confirm-no">Cancel</button>
      </div>
    </div>
    </body>
    </html>

    """#
}
