/// The login page: a plain form posted to `/login` (the broker checks the registry credentials
/// and sets the session cookie). No script; its style is inline because nothing else is served
/// before login.
enum ConsoleLoginPage {
    /// The page; with `failed`, it says the last attempt was refused. Where no password can be
    /// accepted (plain HTTP on a listener not marked `insecure`), it says so instead of a form
    /// whose every login would be refused as if the password were wrong.
    static func html(failed: Bool, passwordsAccepted: Bool) -> String {
        guard passwordsAccepted else { return head + noPasswordsHere }
        let message = failed ? #"<p class="failed" id="login-failed" role="alert">wrong user name or password</p>"# : ""
        return head + message + form
    }

    private static let noPasswordsHere = #"""
    <p class="failed" id="login-unavailable" role="alert">This listener has no TLS, so it takes no password:
    a password sent here could be read on the network.</p>
    <p class="hint">Open the console on a listener with <code>"tls"</code> (https://), or, on a network you
    trust, mark this listener <code>"insecure": true</code> in the gateway's configuration
    (<code>broker.listeners</code>).</p>
    </main>
    </body>
    </html>

    """#

    private static let head = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <title>modbridge · log in</title>
    <style>
      body { font: 16px/1.4 system-ui, sans-serif; margin: 0; background: #f3f4f6; color: #111827; }
      main { max-width: 22rem; margin: 12vh auto 0; padding: 1.5rem; background: #fff; border-radius: 8px;
             box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
      h1 { font-size: 1.3rem; margin: 0 0 1rem; }
      label { display: block; margin: .8rem 0 .2rem; font-weight: 600; }
      input { width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem; border: 1px solid #9ca3af; border-radius: 4px; }
      button { margin-top: 1.2rem; width: 100%; padding: .65rem; font-size: 1rem; border: 0; border-radius: 4px;
               background: #1d4ed8; color: #fff; cursor: pointer; }
      .failed { color: #b91c1c; background: #fee2e2; padding: .5rem; border-radius: 4px; }
      .hint { color: #4b5563; font-size: .85rem; margin-top: 1rem; }
      @media (max-width: 30rem) { main { margin: 0; border-radius: 0; min-height: 100vh; } }
    </style>
    </head>
    <body>
    <main>
    <h1>modbridge console</h1>

    """#

    private static let form = #"""
    <form method="post" action="/login" id="login-form">
      <label for="username">User name (registry or device id)</label>
      <input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit" id="login-submit">Log in</button>
    </form>
    <p class="hint">Log in with the credentials of a registry or device in the gateway's configuration.</p>
    </main>
    </body>
    </html>

    """#
}
