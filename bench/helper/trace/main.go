// cacheprog-trace sits between the go command and a GOCACHEPROG helper and records, per request,
// the time from the go command's request line to the helper's response line (what the go command
// waits), plus the time to the helper's handshake. It adds one hop of its own (a few µs), the same
// for every helper it wraps.
//
//	GOCACHEPROG="cacheprog-trace -o trace.json -- node dist/shim/index.js --dir /store"
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"
)

type req struct {
	ID       int64
	Command  string
	BodySize int64
}

type resp struct {
	ID   int64
	Miss bool
	Err  string
}

type summary struct {
	HandshakeMs float64                    `json:"handshakeMs"`
	SessionMs   float64                    `json:"sessionMs"`
	MaxInFlight int                        `json:"maxInFlight"`
	Commands    map[string]*commandSummary `json:"commands"`
	raw         map[string][]float64
}

type commandSummary struct {
	Count  int     `json:"count"`
	Misses int     `json:"misses,omitempty"`
	Bytes  int64   `json:"bytes,omitempty"`
	SumMs  float64 `json:"sumMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
}

func main() {
	out := flag.String("o", "", "append the summary (one JSON line) to this file")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "usage: cacheprog-trace -o file -- prog args...")
		os.Exit(2)
	}
	t0 := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	childIn, err := cmd.StdinPipe()
	if err != nil {
		panic(err)
	}
	childOut, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}

	var mu sync.Mutex
	sent := map[int64]time.Time{}
	kind := map[int64]string{}
	s := &summary{Commands: map[string]*commandSummary{}, raw: map[string][]float64{}}
	inFlight := 0

	done := make(chan struct{})
	go func() { // helper → go
		defer close(done)
		r := bufio.NewReaderSize(childOut, 1<<16)
		w := bufio.NewWriter(os.Stdout)
		first := true
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				now := time.Now()
				if first {
					s.HandshakeMs = ms(now.Sub(t0))
					first = false
				} else {
					var p resp
					if json.Unmarshal(line, &p) == nil {
						mu.Lock()
						if t, ok := sent[p.ID]; ok {
							c := kind[p.ID]
							s.raw[c] = append(s.raw[c], ms(now.Sub(t)))
							if p.Miss {
								s.Commands[c].Misses++
							}
							delete(sent, p.ID)
							inFlight--
						}
						mu.Unlock()
					}
				}
				w.Write(line)
				w.Flush()
			}
			if err != nil {
				return
			}
		}
	}()

	// go → helper
	r := bufio.NewReaderSize(os.Stdin, 1<<16)
	w := bufio.NewWriterSize(childIn, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if line[0] == '{' {
				var q req
				if json.Unmarshal(line, &q) == nil && q.Command != "" {
					mu.Lock()
					sent[q.ID] = time.Now()
					kind[q.ID] = q.Command
					cs := s.Commands[q.Command]
					if cs == nil {
						cs = &commandSummary{}
						s.Commands[q.Command] = cs
					}
					cs.Count++
					cs.Bytes += q.BodySize
					inFlight++
					if inFlight > s.MaxInFlight {
						s.MaxInFlight = inFlight
					}
					mu.Unlock()
				}
			}
			w.Write(line)
			// A request is followed by a blank line or a body: flush when nothing more is buffered.
			if r.Buffered() == 0 {
				w.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	w.Flush()
	childIn.Close()
	<-done
	cmd.Wait()
	s.SessionMs = ms(time.Since(t0))
	for c, xs := range s.raw {
		sort.Float64s(xs)
		cs := s.Commands[c]
		for _, x := range xs {
			cs.SumMs += x
		}
		cs.SumMs = round(cs.SumMs)
		at := func(q float64) float64 {
			i := int(q*float64(len(xs))+0.999999) - 1
			if i < 0 {
				i = 0
			}
			if i >= len(xs) {
				i = len(xs) - 1
			}
			return round(xs[i])
		}
		cs.P50Ms, cs.P90Ms, cs.P99Ms, cs.MaxMs = at(0.5), at(0.9), at(0.99), at(1)
	}
	if *out != "" {
		b, _ := json.Marshal(s)
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(b, '\n'))
			f.Close()
		}
	}
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds()) / 1000) }
func round(x float64) float64    { return float64(int64(x*1000+0.5)) / 1000 }
