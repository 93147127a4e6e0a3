// fetchsrv: a real net/http/pprof server for cprof's URL tests.
//
// It listens on 127.0.0.1 on two free ports, plain HTTP and HTTPS with a
// self-signed certificate, prints "PORT <n> TLS <m>" on stdout once it
// accepts connections, and keeps some goroutines busy so CPU, heap and
// goroutine profiles have something in them.  Besides Go's /debug/pprof/
// handlers it serves /stall/ (accepts the request, never answers: the
// timeout test), /pair/ (answers two requests only when both are in
// flight: the concurrency test), /big (4 MiB of zeros: the size limit test)
// and /notpprof (a plain 500 without pprof's error header).
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// pairing: a request to /pair/ waits for a second one to arrive; both then
// get the heap profile.  Alone, it gets 503 after 10s.  Only a client that
// fetches its sources concurrently gets two answers.
var (
	pairMu      sync.Mutex
	pairWaiting chan struct{}
)

func pair(w http.ResponseWriter, r *http.Request) {
	pairMu.Lock()
	var mine chan struct{}
	if pairWaiting == nil {
		mine = make(chan struct{})
		pairWaiting = mine
	} else {
		close(pairWaiting)
		pairWaiting = nil
	}
	pairMu.Unlock()
	if mine != nil {
		select {
		case <-mine:
		case <-time.After(10 * time.Second):
			pairMu.Lock()
			if pairWaiting == mine {
				pairWaiting = nil
			}
			pairMu.Unlock()
			w.Header().Set("X-Go-Pprof", "1")
			http.Error(w, "no second request came", http.StatusServiceUnavailable)
			return
		}
	}
	pprof.Lookup("heap").WriteTo(w, 0)
}

// selfSigned makes a throwaway certificate for 127.0.0.1, so that https
// fails verification and https+insecure:// gets through.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fetchsrv"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

var sink [][]byte

//go:noinline
func burnCPU(n int) float64 {
	x := 0.0
	for i := 0; i < n; i++ {
		x += float64(i%7) * 0.5
	}
	return x
}

//go:noinline
func allocate() {
	for i := 0; i < 200; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
}

func main() {
	allocate()
	for i := 0; i < 2; i++ {
		go func() {
			for {
				burnCPU(1 << 20)
			}
		}()
	}
	http.HandleFunc("/stall/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Hour)
	})
	http.HandleFunc("/pair/", pair)
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1<<16)
		for i := 0; i < 64; i++ {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	http.HandleFunc("/notpprof", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "plain failure", http.StatusInternalServerError)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cert, err := selfSigned()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(tln, nil)
	fmt.Printf("PORT %d TLS %d\n", ln.Addr().(*net.TCPAddr).Port, tln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	// exit when the test's pipe closes
	go func() {
		buf := make([]byte, 1)
		os.Stdin.Read(buf)
		os.Exit(0)
	}()
	http.Serve(ln, nil)
}
