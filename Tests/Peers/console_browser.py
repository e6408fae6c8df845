"""The web console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, against a running gateway's HTTP listener.

usage: console_browser.py --url http://127.0.0.1:PORT --username demo --password PW
                          --device oven-1 --point set_point --value 80 --screenshot PATH
                          [--phone-screenshot PATH] [--timeout SECONDS]

Steps: `/` without login ends on the login page; `/console.js` fetched without login is not
served (303 or 401); log in; every device card shows live values and, on every device, at least
one value changes as events arrive; write --value to --device's --point through the confirm step; the ack is shown
as ok and the point's value becomes --value; the page logged no Content-Security-Policy
violation and no script error. Then the screenshot is taken. With --phone-screenshot, the window
is then narrowed to a phone's (390 × 844 CSS pixels): the page must not scroll sideways, every
device card must fit the width, each point's value, field and write button must be visible without
scrolling inside the card, and text must stay at least 12 px; then the second screenshot is taken.

Prints one JSON summary line on stdout: {"ok": true, "values": {...}, "changes": {device: N}, "confirm": "...",
"ack": "..."} and exits 0; or {"ok": false, "reason": "...", ...} and exits 1 (a screenshot is
still taken if the browser got that far). Exit 2: selenium or the browser is missing.
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    print(json.dumps({"ok": False, "reason": "selenium is not installed (make setup-python installs it)"}), flush=True)
    sys.exit(2)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Failure(Exception):
    pass


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--point", required=True)
    parser.add_argument("--value", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--phone-screenshot")
    parser.add_argument("--timeout", type=float, default=60.0, help="the longest wait for any one step")
    return parser.parse_args()


def browser(url):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    host = urllib.parse.urlsplit(url).hostname
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-default-apps", "--disable-sync",
                     "--disable-extensions", "--metrics-recording-only", "--no-proxy-server",
                     # Nothing but the gateway: every other host name fails to resolve.
                     f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {host}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def wait(driver, timeout, condition, what):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except Exception as error:  # a timeout or the page going away
        raise Failure(f"timed out waiting for {what}") from error


def fetch_without_login(url, path):
    """(status, body) of a GET with no cookie, redirects not followed."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def page_path(driver):
    return urllib.parse.urlsplit(driver.current_url).path


def device_values(driver):
    """Each device card's shown values: {device: {point: text}}, and the changes counted."""
    script = """
      const result = {values: {}, changes: {}, shown: {}};
      for (const card of document.querySelectorAll('[data-device]')) {
        const id = card.dataset.device;
        result.values[id] = {};
        result.shown[id] = 0;
        result.changes[id] = 0;
        for (const row of card.querySelectorAll('tr[data-point]')) {
          const cell = row.querySelector('[data-role="value"]');
          if (!cell) continue;
          if (cell.dataset.shown === 'true') { result.values[id][row.dataset.point] = cell.textContent; result.shown[id] += 1; }
          result.changes[id] += Number(cell.dataset.changes || 0);
        }
      }
      return result;"""
    return driver.execute_script(script)


def number(text):
    try:
        return float(text.split(" ")[0])
    except (ValueError, AttributeError, IndexError):
        return None


def run(options, driver, summary):
    url = options.url.rstrip("/")
    timeout = options.timeout

    # Without login, the console is the login page and nothing else is served.
    driver.get(url + "/")
    wait(driver, timeout, lambda d: page_path(d) == "/login" and d.find_elements(By.ID, "login-form"), "the login page")
    status, body = fetch_without_login(url, "/console.js")
    summary["scriptWithoutLogin"] = status
    if status not in (303, 401) or b"MqttConnection" in body:
        raise Failure(f"/console.js without login answered {status}")

    # Log in with the registry's credentials.
    driver.find_element(By.ID, "username").send_keys(options.username)
    driver.find_element(By.ID, "password").send_keys(options.password)
    driver.find_element(By.ID, "login-submit").click()
    wait(driver, timeout, lambda d: d.find_elements(By.ID, "login-failed")
         or (page_path(d) == "/" and d.find_elements(By.CSS_SELECTOR, "[data-device]")),
         "the console page with its devices")
    if driver.find_elements(By.ID, "login-failed"):
        raise Failure("the login was refused: the page says wrong user name or password")
    wait(driver, timeout, lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "connected",
         "the MQTT connection over WebSocket")

    # Every device shows live values, and on every device a value changes while we watch.
    def live(d):
        seen = device_values(d)
        summary["values"], summary["changes"] = seen["values"], seen["changes"]
        return (seen["shown"] and all(count > 0 for count in seen["shown"].values())
                and all(count > 0 for count in seen["changes"].values()))
    wait(driver, timeout, live, "live values on every device and a value that changes on each")
    if options.device not in summary["values"]:
        raise Failure(f"no card for device {options.device}")

    # Write the set point through the confirm step.
    card = driver.find_element(By.CSS_SELECTOR, f'[data-device="{options.device}"]')
    row = card.find_element(By.CSS_SELECTOR, f'tr[data-point="{options.point}"]')
    field = row.find_element(By.CSS_SELECTOR, '[data-role="input"]')
    if field.tag_name == "select":
        Select(field).select_by_value(options.value)
    else:
        field.clear()
        field.send_keys(options.value)
    row.find_element(By.CSS_SELECTOR, '[data-role="write"]').click()
    wait(driver, timeout, lambda d: d.find_element(By.ID, "confirm").is_displayed(), "the confirm step")
    summary["confirm"] = driver.find_element(By.ID, "confirm-text").text
    if options.device not in summary["confirm"] or options.point not in summary["confirm"] or options.value not in summary["confirm"]:
        raise Failure(f"the confirm step does not say what is written: {summary['confirm']!r}")
    driver.find_element(By.ID, "confirm-yes").click()

    ack = card.find_element(By.CSS_SELECTOR, '[data-role="ack"]')
    wait(driver, timeout, lambda d: ack.get_attribute("data-ack") in ("ok", "failed"), "the acknowledgement")
    summary["ack"] = ack.text
    summary["ackId"] = ack.get_attribute("data-ack-id")
    if ack.get_attribute("data-ack") != "ok":
        raise Failure(f"the write was not acknowledged as ok: {ack.text}")

    # The value read again after the write is shown.
    value_cell = row.find_element(By.CSS_SELECTOR, '[data-role="value"]')
    wanted = number(options.value)

    def shows_value(_):
        text = value_cell.text
        if wanted is not None:
            return number(text) == wanted
        return text == options.value or text.startswith(options.value + " ")  # a label, or true/false
    wait(driver, timeout, shows_value, f"{options.point} shown as {options.value}")
    summary["valueAfterWrite"] = value_cell.text


def phone(options, driver, summary):
    """The same page at a phone's width: readable without sideways scrolling."""
    driver.set_window_size(390, 844)
    wait(driver, options.timeout, lambda d: d.execute_script("return window.innerWidth") <= 400, "the phone-sized window")
    layout = driver.execute_script("""
      const width = window.innerWidth, problems = [];
      const page = document.documentElement.scrollWidth;
      if (page > width) problems.push(`the page is ${page} px wide in a ${width} px window`);
      for (const card of document.querySelectorAll('[data-device]')) {
        const box = card.getBoundingClientRect();
        if (box.left < 0 || box.right > width) problems.push(`card ${card.dataset.device} spans ${box.left}..${box.right}`);
        for (const row of card.querySelectorAll('tr[data-point]')) {
          for (const cell of row.querySelectorAll('[data-role="value"], [data-role="input"], [data-role="write"]')) {
            const part = cell.getBoundingClientRect();
            if (part.right > box.right + 0.5 || part.left < box.left - 0.5)
              problems.push(`${card.dataset.device} ${row.dataset.point} ${cell.dataset.role} at ${part.left}..${part.right}, card ${box.left}..${box.right}`);
          }
        }
      }
      let smallest = Infinity;
      for (const element of document.querySelectorAll('body *')) {
        if (!element.offsetParent || !element.childNodes.length) continue;
        const text = [...element.childNodes].some(node => node.nodeType === 3 && node.textContent.trim());
        if (text) smallest = Math.min(smallest, parseFloat(getComputedStyle(element).fontSize));
      }
      return {width, page, problems, smallestFont: smallest};""")
    summary["phone"] = layout
    driver.save_screenshot(options.phone_screenshot)
    summary["phoneScreenshot"] = options.phone_screenshot
    if layout["problems"]:
        raise Failure(f"at a phone's width: {layout['problems'][:5]}")
    if layout["smallestFont"] < 12:
        raise Failure(f"at a phone's width some text is {layout['smallestFont']} px")


def main():
    options = arguments()
    summary = {"ok": False}
    driver = None
    try:
        driver = browser(options.url)
    except WebDriverException as error:
        print(json.dumps({"ok": False, "reason": f"cannot start {CHROMIUM} with {CHROMEDRIVER}: {error.msg}"}), flush=True)
        sys.exit(2)
    screenshot_taken = False
    try:
        run(options, driver, summary)
        driver.save_screenshot(options.screenshot)
        summary["screenshot"], screenshot_taken = options.screenshot, True
        if options.phone_screenshot:
            phone(options, driver, summary)
        # A policy violation or a script error means the page broke somewhere, even if it worked.
        problems = [entry["message"] for entry in driver.get_log("browser")
                    if entry.get("level") == "SEVERE" or "Content Security Policy" in entry.get("message", "")]
        summary["browserLog"] = problems
        if problems:
            raise Failure(f"the browser logged problems: {problems[:3]}")
        summary["ok"] = True
    except Failure as failure:
        summary["reason"] = str(failure)
    except WebDriverException as error:
        summary["reason"] = f"browser error: {error.msg}"
    finally:
        if not screenshot_taken:
            try:
                driver.save_screenshot(options.screenshot)
                summary["screenshot"] = options.screenshot
            except WebDriverException:
                pass
        if not summary["ok"] and "browserLog" not in summary:
            try:
                summary["browserLog"] = [entry["message"] for entry in driver.get_log("browser")][-10:]
            except WebDriverException:
                pass
        driver.quit()
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
