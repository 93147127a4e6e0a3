"""The web UI under `cprof server -token=T`: a browser cannot send the
bearer header with the page's own navigation, so a login (POST /login or
/?token=T once) sets a session cookie that authorises GET/HEAD.  Checked
over raw HTTP (no redirects followed): the 401 login page, the cookie's
attributes and that it is not the token, the page and the API with it, a
wrong token (no cookie), a forged cookie, and that the cookie does not
authorise a push (CSRF)."""
import http.client
import re
import urllib.parse

from srvtools import Server

TOKEN = "s3cret-tok"


def raw(s, path, method="GET", headers=None, body=None, source=None):
    u = urllib.parse.urlparse(s.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def session_of(h):
    m = re.match(r"cprof_session=([0-9a-f]{64});", h.get("set-cookie", ""))
    assert m, h
    return m.group(1)


def test_login_cookie(tmp_path):
    s = Server(str(tmp_path / "d"), f"-token={TOKEN}")
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        st, _, b = raw(s, "/ingest?name=app{env=x}&format=folded", "POST", auth, b"main;f 5\n")
        assert st == 200, b
        # no cookie: a 401 page that says how to log in, and no cookie set
        st, h, b = raw(s, "/?from=now-1h")
        assert st == 401 and "set-cookie" not in h
        assert h["content-type"].startswith("text/html")
        assert b"-token" in b and b'action=/login' in b and b"/?token=TOKEN" in b
        assert b'value="/?from=now-1h"' in b          # back to the same view after
        st, h, b = raw(s, "/api/v1/types")
        assert st == 401 and b"/login" in b
        # a wrong token: no cookie either way
        st, h, b = raw(s, "/?token=nope")
        assert st == 401 and "set-cookie" not in h and b"wrong token" in b
        st, h, b = raw(s, "/login", "POST", {"Content-Type": "application/x-www-form-urlencoded"},
                       "token=s3cret-to&next=%2F")
        assert st == 401 and "set-cookie" not in h and b"wrong token" in b
        for body in ("", "token=%zz", "next=%2F", "token=" + "a" * 2000):
            st, h, _ = raw(s, "/login", "POST", {"Content-Type": "application/x-www-form-urlencoded"}, body)
            assert st == 401 and "set-cookie" not in h, body
        # /?token=: a cookie (random, not the token), then the same view without it
        st, h, _ = raw(s, "/?from=now-1h&token=" + TOKEN)
        assert st == 303 and h["location"] == "/?from=now-1h", h
        c = h["set-cookie"]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
            assert attr in c, c
        assert "Secure" not in c and TOKEN not in c      # plain HTTP here
        sess = session_of(h)
        ck = {"Cookie": f"other=1; cprof_session={sess}"}
        st, h, b = raw(s, "/", headers=ck)
        assert st == 200 and b"srv.js" in b
        st, _, b = raw(s, "/static/srv.js", headers=ck)
        assert st == 200
        st, _, b = raw(s, "/api/v1/types", headers=ck)
        assert st == 200 and b"cpu" in b, b
        st, _, b = raw(s, "/api/v1/types", headers=auth)   # tools: still the header
        assert st == 200
        # the form's POST /login: another session, back to next
        st, h, _ = raw(s, "/login", "POST", {"Content-Type": "application/x-www-form-urlencoded"},
                       "token=" + urllib.parse.quote(TOKEN) + "&next=%2Ftargets")
        assert st == 303 and h["location"] == "/targets"
        assert session_of(h) != sess
        # next must stay on this server
        st, h, _ = raw(s, "/login", "POST", {"Content-Type": "application/x-www-form-urlencoded"},
                       "token=" + TOKEN + "&next=%2F%2Fevil.example%2F")
        assert st == 303 and h["location"] == "/"
        # a forged or truncated cookie is not a session
        for bad in ("0" * 64, sess[:-1] + ("0" if sess[-1] != "0" else "1"), sess[:32], TOKEN):
            st, _, _ = raw(s, "/api/v1/types", headers={"Cookie": f"cprof_session={bad}"})
            assert st == 401, bad
        # CSRF: the cookie does not authorise a push (a state-changing request)
        st, _, b = raw(s, "/ingest?name=app{env=x}&format=folded", "POST", ck, b"main;evil 5\n")
        assert st == 401, b
        st, _, b = raw(s, "/api/v1/profile?type=cpu&query=%7B%7D&from=now-1h&format=top", headers=ck)
        assert b"evil" not in b
    finally:
        assert s.stop()[0] == 0


def test_no_login_without_token(tmp_path):
    """Without -token there is nothing to log in to: /?token= is a plain page."""
    s = Server(str(tmp_path / "d"))
    try:
        st, h, _ = raw(s, "/?token=x")
        assert st == 200 and "set-cookie" not in h
    finally:
        assert s.stop()[0] == 0


def test_wrong_tokens_are_limited_per_address(tmp_path):
    """Ten wrong tokens from one address within a minute: every token it
    presents after that, right or wrong, by header, form or /?token=, is
    refused unchecked with 429 and Retry-After; a browser session made
    before keeps working, and a request with no token is still a 401."""
    s = Server(str(tmp_path / "d"), f"-token={TOKEN}")
    try:
        st, h, _ = raw(s, "/?token=" + TOKEN)
        assert st == 303
        ck = {"Cookie": f"cprof_session={session_of(h)}"}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for i in range(10):
            st, _, b = raw(s, "/api/v1/types", headers={"Authorization": f"Bearer guess{i}"})
            assert st == 401, (i, b)
        for how in (lambda: raw(s, "/api/v1/types", headers=auth),
                    lambda: raw(s, "/?token=" + TOKEN),
                    lambda: raw(s, "/login", "POST", form, "token=" + TOKEN),
                    lambda: raw(s, "/ingest?name=a&format=folded", "POST", auth, b"main 1\n")):
            st, h, b = how()
            assert st == 429, b
            assert 0 < int(h["retry-after"]) <= 60, h
            assert b"too many wrong tokens" in b
        st, _, b = raw(s, "/api/v1/types", headers=ck)
        assert st == 200, b
        st, _, _ = raw(s, "/api/v1/types")
        assert st == 401
    finally:
        assert s.stop()[0] == 0


def test_every_way_of_presenting_a_token_counts(tmp_path):
    """A wrong token counts against its address whichever way it comes:
    ten by the header alone, ten by the login form alone, or ten by
    /?token= alone (each from its own loopback address) get that address
    refused; an address that sent nothing wrong is not."""
    s = Server(str(tmp_path / "d"), f"-token={TOKEN}")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ways = {
        "127.0.0.2": lambda src, i: raw(s, "/api/v1/types", headers={"Authorization": f"Bearer guess{i}"},
                                        source=src),
        "127.0.0.3": lambda src, i: raw(s, "/login", "POST", form, f"token=guess{i}&next=%2Fx", source=src),
        "127.0.0.4": lambda src, i: raw(s, f"/?token=guess{i}", source=src),
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for src, wrong in ways.items():
            for i in range(10):
                st, h, b = wrong(src, i)
                assert st == 401, (src, i, b)
                # a failed login stays on its page, whatever next it carried
                assert "location" not in h, (src, h)
            st, h, b = raw(s, "/api/v1/types", headers=auth, source=src)
            assert st == 429 and b"too many wrong tokens" in b, (src, st, b)
        st, _, b = raw(s, "/api/v1/types", headers=auth, source="127.0.0.5")
        assert st == 200, b
    finally:
        assert s.stop()[0] == 0
