// cgo_burn - a Go program with cgo, for the CPU profiler's tests: Go's
// runtime installs its handler on every signal through libc's sigaction
// (SIGPROF and every real-time signal included), so the runtime's clocks
// find no free signal and stay, chained, on a real-time one.  It burns
// ~0.3 s of CPU in burnGo and leaves through libc's exit (a Go program's
// own exit is a raw exit_group: no exit-time hook runs).
package main

/*
#include <stdlib.h>
static int twice(int x) { return 2 * x; }
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

//go:noinline
func burnGo(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s = s*31 + i
	}
	return s
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	// a real-time signal the program listens to: one sent to it must
	// still reach it, through the runtime's handler there
	ch := make(chan os.Signal, 1)
	rt := syscall.Signal(64 - 3) // SIGRTMAX-3, the runtime's first choice
	signal.Notify(ch, rt)
	s := 0
	for cpuSeconds() < 0.3 {
		s += burnGo(100000) + int(C.twice(1))
	}
	syscall.Kill(os.Getpid(), rt)
	select {
	case <-ch:
		fmt.Println("got SIGRTMAX-3")
	case <-time.After(5 * time.Second):
		fmt.Println("SIGRTMAX-3 lost")
	}
	fmt.Println("done", s != 0)
	C.exit(0)
}
