"""A real HTTP/1.1 client for HTTPTests: Python's http.client sends a form POST and then a GET
on the same kept-alive connection to 127.0.0.1:PORT and prints, per response, one line:
status, reason, the Location and Set-Cookie fields and the body, tab-separated."""
import http.client
import sys

port = int(sys.argv[1])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def show(response):
    body = response.read().decode("utf-8")
    fields = [str(response.status), response.reason, response.getheader("Location", "-"),
              response.getheader("Set-Cookie", "-"), body]
    print("\t".join(fields), flush=True)


connection.request("POST", "/login", body="username=d%C3%A9mo&password=s%21x+y",
                   headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "theme=dark; modbridge_session=abc"})
show(connection.getresponse())
connection.request("GET", "/metrics?x=1")
show(connection.getresponse())
connection.close()
