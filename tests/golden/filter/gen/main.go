// gen SEED OUT: a random profile with string and numeric labels (with and
// without units), inline frames, odd C++ and Go names, drop/keep_frames;
// merged (so pprof's own Merge on load leaves it unchanged) and written as
// .pb.gz.  NONEG=1 leaves out negative values.
package main

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"

	"github.com/google/pprof/profile"
)

var names = []string{"main.main", "main.work", "main.(*T).run", "runtime.mallocgc", "runtime.main",
	"runtime.goexit", "std::vector<int>::push_back(int)", "(anonymous namespace)::helper(int)",
	"foo::operator()(int)", ".ppc_entry", "", "héllo.wörld", "net/http.(*conn).serve",
	"crypto/sha256.block", "sort.Sort", "main.work.func1", "a(b(c", "operator()", "x\ty"}
var files = []string{"main.go", "/usr/lib/go/src/runtime/malloc.go", "", "lib/a.cc", "src/x.c"}

func main() {
	seed, _ := strconv.Atoi(os.Args[1])
	r := rand.New(rand.NewSource(int64(seed)))
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10000000, TimeNanos: 1700000000123456789 + int64(seed), DurationNanos: int64(r.Intn(5e9)),
	}
	if r.Intn(2) == 0 {
		p.DefaultSampleType = "samples"
	}
	if r.Intn(2) == 0 {
		p.Comments = []string{"comment one", "#hidden"}
	}
	switch r.Intn(4) {
	case 0:
		p.DropFrames = "runtime\\..*"
	case 1:
		p.DropFrames = "runtime\\..*|main\\.work"
		p.KeepFrames = "runtime\\.main"
	case 2:
		p.DropFrames = "std::vector<int>::push_back|foo::operator\\(\\)"
	}
	maps := []*profile.Mapping{
		{ID: 1, Start: 0x400000, Limit: 0x500000, File: "/bin/prog", BuildID: "abc", HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: r.Intn(2) == 0},
		{ID: 2, Start: 0x7f0000, Limit: 0x7f8000, Offset: 0x1000, File: "libc.so.6", HasFunctions: true},
		{ID: 3, Start: 0x900000, Limit: 0x910000},
	}
	p.Mapping = maps
	var fns []*profile.Function
	for i := 0; i < 12; i++ {
		n := names[r.Intn(len(names))]
		sys := n
		if r.Intn(5) == 0 {
			sys = "_Z" + n
		}
		fns = append(fns, &profile.Function{ID: uint64(i + 1), Name: n, SystemName: sys, Filename: files[r.Intn(len(files))], StartLine: int64(r.Intn(3) * 10)})
	}
	p.Function = fns
	var locs []*profile.Location
	for i := 0; i < 30; i++ {
		l := &profile.Location{ID: uint64(i + 1), Address: uint64(0x400000 + r.Intn(0x10000))}
		if r.Intn(6) != 0 {
			l.Mapping = maps[r.Intn(len(maps))]
		}
		nl := r.Intn(4)
		if r.Intn(8) == 0 {
			nl = 0
		}
		for k := 0; k < nl; k++ {
			l.Line = append(l.Line, profile.Line{Function: fns[r.Intn(len(fns))], Line: int64(r.Intn(100))})
		}
		l.IsFolded = r.Intn(10) == 0
		locs = append(locs, l)
	}
	p.Location = locs
	wvals := []string{"a", "b", "c", "long value"}
	for i := 0; i < 60; i++ {
		s := &profile.Sample{}
		d := 1 + r.Intn(7)
		for k := 0; k < d; k++ {
			s.Location = append(s.Location, locs[r.Intn(len(locs))])
		}
		c := int64(1 + r.Intn(3))
		if os.Getenv("NONEG") == "" && r.Intn(15) == 0 {
			c = -c
		}
		s.Value = []int64{c, c * 10000000}
		if r.Intn(3) != 0 {
			s.Label = map[string][]string{}
			if r.Intn(2) == 0 {
				s.Label["worker"] = []string{wvals[r.Intn(len(wvals))]}
			}
			if r.Intn(3) == 0 {
				s.Label["kind"] = []string{"x"}
			}
			if r.Intn(8) == 0 {
				s.Label["kind"] = []string{"x", "y"}
			}
		}
		if r.Intn(2) == 0 {
			s.NumLabel = map[string][]int64{}
			s.NumUnit = map[string][]string{}
			if r.Intn(2) == 0 {
				s.NumLabel["bytes"] = []int64{int64(1 << uint(r.Intn(22)))}
			}
			if r.Intn(3) == 0 {
				s.NumLabel["request"] = []int64{int64(r.Intn(100000))}
			}
			if r.Intn(3) == 0 {
				s.NumLabel["duration"] = []int64{int64(r.Intn(5e9))}
				s.NumUnit["duration"] = []string{"nanoseconds"}
			}
			if r.Intn(4) == 0 {
				u := "kilobytes"
				if seed%3 == 0 && r.Intn(3) == 0 {
					u = "bytes"
				}
				s.NumLabel["size"] = []int64{int64(r.Intn(4096))}
				s.NumUnit["size"] = []string{u}
			}
		}
		p.Sample = append(p.Sample, s)
	}
	if err := p.CheckValid(); err != nil {
		panic(err)
	}
	m, err := profile.Merge([]*profile.Profile{p})
	if err != nil {
		panic(err)
	}
	f, _ := os.Create(os.Args[2])
	if err := m.Write(f); err != nil {
		panic(err)
	}
	f.Close()
	fmt.Println("wrote", os.Args[2])
}
