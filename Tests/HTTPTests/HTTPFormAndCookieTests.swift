import HTTP
import Testing

@Suite struct HTTPFormAndCookieTests {
    @Test func cookiesByName() {
        let request = HTTPRequest(method: "GET", target: "/", headers: ["Cookie": "theme=dark;  modbridge_session=AbC123=; empty=; flag"])
        #expect(request.cookie("modbridge_session") == "AbC123=")
        #expect(request.cookie("theme") == "dark")
        #expect(request.cookie("empty") == "")
        #expect(request.cookie("flag") == nil)
        #expect(request.cookie("Theme") == nil)
        #expect(request.cookie("missing") == nil)
        #expect(HTTPRequest(method: "GET", target: "/").cookie("theme") == nil)
        let twoFields = HTTPRequest(method: "GET", target: "/", headers: ["Cookie": "a=1", "cookie": "b=2; a=3"])
        #expect(twoFields.cookie("b") == "2")
        #expect(twoFields.cookie("a") == "1")
    }

    @Test func urlencodedFieldsDecode() {
        let form = HTTPForm(parsing: "username=demo&password=s%21x+y&empty=&bare&caf%C3%A9=%E2%82%AC&&a=1&a=2")
        #expect(form.fields.map(\.name) == ["username", "password", "empty", "bare", "café", "a", "a"])
        #expect(form["username"] == "demo")
        #expect(form["password"] == "s!x y")
        #expect(form["empty"] == "")
        #expect(form["bare"] == "")
        #expect(form["café"] == "€")
        #expect(form["a"] == "1")
        #expect(form.values("a") == ["1", "2"])
        #expect(form["missing"] == nil)
        #expect(HTTPForm(parsing: "x=a%3Db%26c")["x"] == "a=b&c")
        #expect(HTTPForm(parsing: "x=%2b+%2B")["x"] == "+ +")
    }

    @Test func brokenEscapesAndNonUTF8AreSkipped() {
        let form = HTTPForm(parsing: "a=%4&b=%zz&c=%&d=%ff&e=%C3&f=ok&g%=1")
        #expect(form.fields.map(\.name) == ["f"])
        #expect(HTTPForm.decode("%41%62c".bytes) == "Abc")
        #expect(HTTPForm.decode("%G1".bytes) == nil)
        #expect(HTTPForm.decode("%ED%A0%80".bytes) == nil)
        #expect(HTTPForm(parsing: "").fields.isEmpty)
    }

    @Test func bodyFormOnlyForTheFormContentType() {
        let body = "username=demo&password=pw".bytes
        let post = HTTPRequest(method: "POST", target: "/login",
                               headers: ["Content-Type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"], body: body)
        #expect(post.bodyForm["password"] == "pw")
        let json = HTTPRequest(method: "POST", target: "/login", headers: ["Content-Type": "application/json"], body: body)
        #expect(json.bodyForm.fields.isEmpty)
        #expect(HTTPRequest(method: "GET", target: "/login?failed=1&next=%2Fdevices").queryForm["next"] == "/devices")
        #expect(HTTPRequest(method: "GET", target: "/login").queryForm.fields.isEmpty)
    }
}
