// pprofauth: Go's net/http/pprof behind HTTP basic auth, for the server's
// scrape tests (tests/e2e/test_server_targets.py).
//
// Usage: pprofauth USER PASSWORD.  It listens on a free port of 127.0.0.1,
// prints "PORT <n>" on stdout once it accepts connections, answers 401
// (with a WWW-Authenticate challenge) to a request without those
// credentials, and serves Go's /debug/pprof/ handlers to one with them.  A
// few goroutines allocate so the heap profile has something in it.  It
// exits when its standard input closes.
package main

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var sink [][]byte

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pprofauth USER PASSWORD")
		os.Exit(2)
	}
	user, pass := []byte(os.Args[1]), []byte(os.Args[2])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guard := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), user) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), pass) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="pprof"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.DefaultServeMux.ServeHTTP(w, r)
	})
	go func() {
		for i := 0; ; i++ {
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 64 {
				sink = sink[1:]
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go http.Serve(ln, guard)
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			return
		}
	}
}
